package dev.courier.nats;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A topic's stream deleted while its subscriptions run. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class NatsStreamLossTest {

    private static final String RUN = "sl_" + UUID.randomUUID().toString().substring(0, 8);
    private static final NatsFixture BROKER = NatsFixture.jetStream();
    private final List<Courier> open = new ArrayList<>();

    @AfterEach
    void closeCouriers() {
        open.forEach(Courier::close);
    }

    @AfterAll
    static void deleteStreams() {
        NatsFixture.deleteStreams(BROKER.url(), "COURIER_" + RUN);
    }

    private Courier connect() {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(BROKER.config()).url(BROKER.url()).build();
        Courier c = Courier.connect(config);
        open.add(c);
        return c;
    }

    /**
     * A publish after the stream was deleted (or a memory stream lost in a server restart) creates
     * the stream again; the running group subscription of the same Courier, whose durable consumer
     * went with the old stream, gets its consumer created again and receives what is published.
     */
    @Test
    void runningGroupReceivesAfterItsStreamWasReprovisioned() throws Exception {
        Courier courier = connect();
        groupGetsWhatIsPublishedAfterTheStreamWasDeleted(courier, courier);
    }

    @Test
    @DisplayName("a process that only consumes creates its consumer again when the server reports it gone with its stream")
    void consumerOnlyProcessCreatesItsConsumerAgain() throws Exception {
        groupGetsWhatIsPublishedAfterTheStreamWasDeleted(connect(), connect());
    }

    /** A group of {@code consumer} gets a first message, the stream is deleted, {@code producer} publishes again until stored. */
    private static void groupGetsWhatIsPublishedAfterTheStreamWasDeleted(Courier consumer, Courier producer) throws Exception {
        String topic = RUN + ".gone." + UUID.randomUUID().toString().substring(0, 6);
        List<String> got = new CopyOnWriteArrayList<>();
        consumer.subscribe(Subscribe.to(topic).group("g"), d -> got.add(d.payload(String.class)));
        producer.publisher().publish(topic, "first").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await(got, "first", 10);
        assertThat(got).contains("first");
        deleteStreamOf(topic);
        PublishReceipt receipt = null;
        for (int i = 0; i < 4 && receipt == null; i++) {
            try {
                receipt = producer.publisher().publish(topic, "again").toCompletableFuture().get(20, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                Thread.sleep(200); // the first tells the producer's binding that the stream is gone
            }
        }
        assertThat(receipt).as("the publish went through (JetStream stored it)").isNotNull();
        await(got, "again", 60);
        assertThat(got).as("the running group subscription receives the message JetStream acknowledged").contains("again");
    }

    private static void deleteStreamOf(String topic) throws Exception {
        try (Connection nc = Nats.connect(BROKER.url())) {
            JetStreamManagement jsm = nc.jetStreamManagement();
            jsm.deleteStream(jsm.getStreamNames(topic).get(0));
        }
    }

    private static void await(List<String> got, String what, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!got.contains(what) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    /**
     * A broadcast subscription in the process that finds the stream gone on a publish: its
     * ephemeral consumer is created again on the new stream, reading it from its start, so what a
     * retried publish stored first is not skipped.
     */
    @Test
    @DisplayName("a broadcast subscription whose stream was deleted gets every publish confirmed after it came back")
    void broadcastRecreatedAfterAFailedPublishGetsWhatWasPublishedAfterIt() throws Exception {
        Courier courier = connect();
        String topic = RUN + ".bc." + UUID.randomUUID().toString().substring(0, 6);
        List<String> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic), d -> got.add(d.payload(String.class)));
        courier.publisher().publish(topic, "first").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await(got, "first", 10);
        assertThat(got).contains("first");
        deleteStreamOf(topic);
        List<String> confirmed = new ArrayList<>();
        for (int n = 0; n < 20; n++) {
            String p = "again" + n;
            for (int i = 0; i < 4; i++) {
                try {
                    courier.publisher().publish(topic, p).toCompletableFuture().get(20, TimeUnit.SECONDS);
                    confirmed.add(p);
                    break;
                } catch (ExecutionException e) {
                    // the first tells the binding the stream is gone; retry at once, as an application would
                }
            }
        }
        assertThat(confirmed).hasSize(20);
        await(got, "again19", 15);
        Thread.sleep(500);
        assertThat(got).as("every publish JetStream confirmed after the stream came back reaches the running broadcast subscription")
                .containsAll(confirmed);
    }

    /**
     * Restarts asked for at once (a failed publish, the pull's "409 Consumer Deleted", a
     * reconnect) run one after the other: one consumer is created again, and each message is
     * delivered once.
     */
    @Test
    @DisplayName("restarts asked for at once leave one consumer, and each message is delivered once")
    void concurrentRestartsLeaveOneConsumer() throws Exception {
        Courier courier = connect();
        String topic = RUN + ".two." + UUID.randomUUID().toString().substring(0, 6);
        List<String> got = new CopyOnWriteArrayList<>();
        dev.courier.Subscription s = courier.subscribe(Subscribe.to(topic), d -> got.add(d.payload(String.class)));
        java.lang.reflect.Field f = s.getClass().getDeclaredField("inner");
        f.setAccessible(true);
        NatsSubscription sub = (NatsSubscription) f.get(s);
        courier.publisher().publish(topic, "first").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await(got, "first", 10);
        String stream;
        List<String> consumers;
        try (Connection nc = Nats.connect(BROKER.url())) {
            JetStreamManagement jsm = nc.jetStreamManagement();
            stream = jsm.getStreamNames(topic).get(0);
            jsm.deleteStream(stream);
            // what a failed publish and a reconnect do besides the pull's own report
            java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
            Runnable restart = () -> {
                try {
                    barrier.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                sub.restartConsumer();
            };
            Thread a = new Thread(restart);
            Thread b = new Thread(restart);
            a.start();
            b.start();
            a.join();
            b.join();
            Thread.sleep(1000);
            consumers = jsm.getConsumerNames(stream);
        }
        for (int n = 0; n < 10; n++) {
            courier.publisher().publish(topic, "m" + n).toCompletableFuture().get(20, TimeUnit.SECONDS);
        }
        await(got, "m9", 15);
        Thread.sleep(1000);
        org.assertj.core.api.SoftAssertions soft = new org.assertj.core.api.SoftAssertions();
        soft.assertThat(consumers).as("consumers of the one broadcast subscription on the new stream").hasSize(1);
        soft.assertThat(got.stream().filter(p -> p.startsWith("m")).toList()).as("each message once")
                .containsExactly("m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9");
        soft.assertAll();
    }
}
