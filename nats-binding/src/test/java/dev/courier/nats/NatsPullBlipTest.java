package dev.courier.nats;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A consuming process whose connection to the (running) server goes away for a moment, or whose server does not answer for a while. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class NatsPullBlipTest {

    private static final String RUN = "pb_" + UUID.randomUUID().toString().substring(0, 8);
    private static final NatsFixture BROKER = NatsFixture.jetStream();
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    @AfterAll
    static void deleteStreams() {
        NatsFixture.deleteStreams(BROKER.url(), "COURIER_" + RUN);
    }

    private Courier connect(String url, Map<String, String> extra) {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(BROKER.config()).setAll(extra).url(url).build();
        Courier c = Courier.connect(config);
        open.add(c);
        return c;
    }

    /**
     * While the connection is down, pull requests must not pile up in jnats' reconnect buffer to be
     * filled at once after the reconnect and then dropped by a replaced pull: with a 30 s ack wait,
     * every message arrives well before it.
     */
    @Test
    @DisplayName("messages published while the connection was down arrive after the reconnect, well before the ack wait")
    void messagesPublishedDuringABlipArriveWellBeforeTheAckWait() throws Exception {
        TcpCut relay = new TcpCut("127.0.0.1", 4222);
        Map<String, String> cfg = Map.of(NatsSettings.ACK_WAIT, "30s", NatsSettings.RECONNECT_WAIT, "100ms");
        Courier consumer = connect("nats://127.0.0.1:" + relay.port(), cfg);
        Courier producer = connect(BROKER.url(), cfg);
        open.add(relay);
        String topic = RUN + ".blip." + UUID.randomUUID().toString().substring(0, 6);
        Set<Integer> got = ConcurrentHashMap.newKeySet();
        consumer.subscribe(Subscribe.to(topic).group("g").maxInFlight(200).concurrency(4), d -> got.add(d.payload(Integer.class)));
        producer.publisher().publish(topic, -1).toCompletableFuture().get(10, TimeUnit.SECONDS);
        long deadline0 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!got.contains(-1) && System.nanoTime() < deadline0) {
            Thread.sleep(10);
        }
        assertThat(got).contains(-1);

        int n = 0;
        for (int round = 0; round < 5; round++) { // the drop is a race: it shows in most runs within a few rounds
            relay.cut();
            Thread.sleep(2000); // the subscription keeps asking meanwhile
            int base = n;
            n += 1000;
            List<CompletableFuture<PublishReceipt>> sent = new ArrayList<>();
            for (int i = base; i < n; i++) {
                sent.add(producer.publisher().publish(topic, i).toCompletableFuture());
            }
            CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            relay.restore();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (got.size() < n + 1 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Set<Integer> missing = new TreeSet<>();
            for (int i = 0; i < n; i++) {
                if (!got.contains(i)) {
                    missing.add(i);
                }
            }
            String state = "";
            if (!missing.isEmpty()) {
                try (io.nats.client.Connection nc = io.nats.client.Nats.connect(BROKER.url())) {
                    io.nats.client.JetStreamManagement jsm = nc.jetStreamManagement();
                    io.nats.client.api.ConsumerInfo ci = jsm.getConsumerInfo(jsm.getStreamNames(topic).get(0), "g");
                    state = " (consumer: ack pending " + ci.getNumAckPending() + ", undelivered " + ci.getNumPending() + ")";
                }
            }
            assertThat(missing).as("round %d: %d messages not received within 15 s, well under the 30 s ack wait%s", round,
                    missing.size(), state).isEmpty();
        }
    }

    /**
     * A restart (as a reconnect runs it) whose JetStream API call does not get an answer in time
     * (the server's JetStream busy or still electing a leader after a restart): the subscription
     * must go on receiving once the server answers again, without waiting for another reconnect.
     */
    @Test
    @DisplayName("a pull restart the server does not answer in time leaves the subscription receiving once it answers again")
    void restartThatFailsOnceDoesNotStopTheSubscriptionForGood() throws Exception {
        TcpCut relay = new TcpCut("127.0.0.1", 4222);
        Map<String, String> cfg = Map.of(dev.courier.CourierConfig.CONNECT_TIMEOUT, "1s");
        Courier consumer = connect("nats://127.0.0.1:" + relay.port(), cfg);
        Courier producer = connect(BROKER.url(), Map.of());
        open.add(relay);
        String topic = RUN + ".rf." + UUID.randomUUID().toString().substring(0, 6);
        Set<Integer> got = ConcurrentHashMap.newKeySet();
        dev.courier.Subscription s = consumer.subscribe(Subscribe.to(topic).group("g"), d -> got.add(d.payload(Integer.class)));
        producer.publisher().publish(topic, 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
        long d0 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!got.contains(1) && System.nanoTime() < d0) {
            Thread.sleep(10);
        }
        assertThat(got).contains(1);
        java.lang.reflect.Field f = s.getClass().getDeclaredField("inner");
        f.setAccessible(true);
        NatsSubscription sub = (NatsSubscription) f.get(s);

        relay.hold = true; // the server does not answer for a while
        Thread restart = new Thread(sub::restartConsumer); // a restart that replaces the pull, whose API calls time out
        restart.start();
        restart.join(20_000);
        relay.hold = false;

        producer.publisher().publish(topic, 2).toCompletableFuture().get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!got.contains(2) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(got).as("received once the server answers again").contains(2);
    }
}
