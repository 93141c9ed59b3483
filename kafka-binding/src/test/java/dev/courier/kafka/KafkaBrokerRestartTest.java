package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.kafka.EmbeddedKafka;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The broker goes away in the middle of a stream and comes back on the same port with the same
 * data: publishes made while it is away complete once it is back, the subscription carries on,
 * and nothing is lost.
 */
class KafkaBrokerRestartTest {

    static final int BEFORE = 200;
    static final int DURING = 200;
    static final int AFTER = 200;
    static final int TOTAL = BEFORE + DURING + AFTER;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stop", "kill"})
    @DisplayName("a broker restart mid-stream loses no message: publishes made while it is down complete after, the group receives all")
    void restartMidStream(String how) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(3).build().start();
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(kafka.url())
                     .set("courier.kafka.topic.partitions", "3")
                     .set("courier.kafka.commit.interval", "100ms")
                     .set(CourierConfig.CLOSE_TIMEOUT, "5s").build())) {
            String topic = "restart." + UUID.randomUUID().toString().substring(0, 8);
            Map<String, Integer> received = new ConcurrentHashMap<>();
            Subscription sub = courier.subscribe(Subscribe.to(topic).group("g").concurrency(4),
                    d -> received.merge(d.payload(String.class), 1, Integer::sum));

            List<CompletableFuture<PublishReceipt>> sent = new ArrayList<>();
            publish(courier, topic, 0, BEFORE, sent);
            CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            await(() -> received.size() == BEFORE, "the first " + BEFORE + " received", received);

            if (how.equals("kill")) {
                kafka.kill(); // no clean shutdown: the broker recovers its log when it starts
            } else {
                kafka.stop();
            }
            // back after a while, from another thread: publish() may wait for metadata while the broker is away
            CompletableFuture<Void> restarted = CompletableFuture.runAsync(() -> {
                sleep(2_000);
                kafka.start();
            });
            publish(courier, topic, BEFORE, BEFORE + DURING, sent);
            restarted.get(120, TimeUnit.SECONDS);
            publish(courier, topic, BEFORE + DURING, TOTAL, sent);

            // the publish timeout (30 s) is far longer than the outage: every publish is confirmed
            CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            await(() -> received.size() == TOTAL, "all " + TOTAL + " received by the group", received);
            assertThat(received.keySet()).containsExactlyInAnyOrderElementsOf(expected(0, TOTAL));

            // and they are all stored: a new group reads every one from the start
            Set<String> replayed = ConcurrentHashMap.newKeySet();
            courier.subscribe(Subscribe.to(topic).group("late"), d -> replayed.add(d.payload(String.class)));
            await(() -> replayed.size() == TOTAL, "all " + TOTAL + " replayed by a new group", replayed);
            sub.close();
        }
    }

    private static void publish(Courier courier, String topic, int from, int to, List<CompletableFuture<PublishReceipt>> sent) {
        for (int i = from; i < to; i++) {
            sent.add(courier.publisher().publish(topic, "k" + (i % 7), "m" + i).toCompletableFuture());
        }
    }

    private static List<String> expected(int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add("m" + i);
        }
        return out;
    }

    private static void await(BooleanSupplier condition, String what, Object state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                Object seen = state instanceof Map<?, ?> m ? m.size() + " distinct, missing " + missing(m.keySet())
                        : state instanceof Set<?> s ? s.size() + " distinct, missing " + missing(s) : state;
                throw new AssertionError("timed out waiting for " + what + "; " + seen);
            }
            Thread.sleep(20);
        }
    }

    private static Set<String> missing(Set<?> seen) {
        Set<String> out = new TreeSet<>(expected(0, TOTAL));
        out.removeIf(seen::contains);
        return out;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
