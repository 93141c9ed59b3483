package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Subscribe;
import dev.courier.testkit.kafka.KafkaFixture;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** Dead letters of messages as large as the binding declares it carries. */
class KafkaDeadLetterTest {

    @Test
    @DisplayName("a failing message well within the binding's declared maxPayloadBytes is dead-lettered (not refused as too large, forever)")
    void largeMessageWithinTheDeclaredLimitCanBeDeadLettered() throws Exception {
        deadLettered(-4_000, "cannot process this order: " + "x".repeat(2_000));
    }

    @Test
    @DisplayName("a failing message of exactly maxPayloadBytes is dead-lettered, also with the largest failure headers (a long non-ASCII exception message)")
    void largestMessageWithTheLargestFailureHeadersCanBeDeadLettered() throws Exception {
        // three UTF-8 bytes a character, in the reason, the exception message and the stack trace headers
        deadLettered(0, "commande refusée: " + "€".repeat(5_000));
    }

    /**
     * Publishes a message {@code belowLimit} bytes off the declared maximum payload to a subscription whose handler
     * always throws {@code failure}; checks it reaches the dead-letter topic once, with its payload whole.
     */
    private static void deadLettered(int belowLimit, String failure) throws Exception {
        String t = "kt.dlq-large." + UUID.randomUUID().toString().substring(0, 8);
        String group = "g-" + UUID.randomUUID();
        String dlq = t + "." + group + ".dlq";
        List<Integer> dead = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        AtomicReference<Throwable> dlqFailure = new AtomicReference<>();
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url(KafkaFixture.resolve())
                .set("courier.kafka.commit.interval", "100ms").build();
        try (Courier courier = Courier.builder().config(config).listener(new CourierListener() {
            @Override
            public void deadLetterFailed(Delivery d, String topic, Throwable cause) {
                dlqFailure.compareAndSet(null, cause);
            }
        }).connect()) {
            byte[] payload = new byte[(int) courier.capabilities().maxPayloadBytes() + belowLimit];
            courier.subscribe(Subscribe.to(dlq).group("dlq-reader"), d -> dead.add(d.message().payload().length));
            courier.subscribe(Subscribe.to(t).group(group).maxAttempts(1).redeliveryDelay(Duration.ofMillis(200)), d -> {
                attempts.incrementAndGet();
                throw new IllegalStateException(failure);
            });
            courier.publisher().publish(courier.publisher().message(t, payload).key("k").build()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (dead.isEmpty() && dlqFailure.get() == null && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(dlqFailure.get()).as("dead-letter publish failure (after %s deliveries)", attempts.get()).isNull();
            assertThat(dead).as("dead letters of the %s-byte message", payload.length).containsExactly(payload.length);
        }
    }
}
