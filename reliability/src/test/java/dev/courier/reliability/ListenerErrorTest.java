package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Message;
import dev.courier.Outcome;
import dev.courier.Subscribe;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** CourierListener says: whatever a listener method throws, an Error included, is logged and ignored. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ListenerErrorTest {

    private final List<Courier> open = new CopyOnWriteArrayList<>();
    private final String broker = "mem://scr-" + UUID.randomUUID();
    private final String topic = "scr." + UUID.randomUUID().toString().substring(0, 8);

    @AfterEach
    void close() {
        for (Courier c : open) {
            c.close();
        }
    }

    private Courier connect(CourierListener listener, Reliability policy) {
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url(broker).build())
                .listener(listener).interceptor(policy).connect();
        open.add(c);
        return c;
    }

    /** Records settlements; throws an AssertionError from one reliability event, as a failed assert in a test listener would. */
    static class Throwing implements CourierListener {
        final List<String> settled = new CopyOnWriteArrayList<>();
        final List<Integer> attempts = new CopyOnWriteArrayList<>();

        @Override
        public void settled(Delivery delivery, Outcome outcome) {
            settled.add(outcome.kind().name());
        }
    }

    @Test
    void listenerErrorOnDuplicateSkippedDoesNotFailTheDuplicate() throws Exception {
        Throwing listener = new Throwing() {
            @Override
            public void duplicateSkipped(Delivery delivery, String idempotencyKey, boolean stillInProgress) {
                throw new AssertionError("a failed assert in a listener");
            }
        };
        Courier c = connect(listener, Reliability.builder().idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
        AtomicInteger runs = new AtomicInteger();
        c.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).maxAttempts(2), d -> runs.incrementAndGet());
        Message m = c.publisher().message(topic, "pay").id("pay-" + UUID.randomUUID()).build();
        c.publisher().publish(m).toCompletableFuture().join();
        c.publisher().publish(m).toCompletableFuture().join();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (listener.settled.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        Thread.sleep(500);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(listener.settled).as("settlements of the message and its duplicate").containsExactly("ACK", "ACK");
    }

    @Test
    void listenerErrorOnRetryingDoesNotSkipTheInProcessRetry() throws Exception {
        Throwing listener = new Throwing() {
            @Override
            public void retrying(Delivery delivery, int attempt, Duration delay, boolean inProcess, Throwable cause) {
                throw new AssertionError("a failed assert in a listener");
            }
        };
        Courier c = connect(listener, Reliability.builder().retry(RetryPolicy.fixed(Duration.ofMillis(20)).jitter(0).attempts(3)).build());
        AtomicInteger runs = new AtomicInteger();
        c.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)), d -> {
            listener.attempts.add(d.attempt());
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("transient");
            }
        });
        c.publisher().publish(topic, "k", "x").toCompletableFuture().join();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!listener.settled.contains("ACK") && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(listener.settled).as("settlements: the in-process retry succeeds, no broker redelivery").containsExactly("ACK");
        assertThat(listener.attempts).as("delivery attempts the handler saw").containsExactly(1, 1);
    }
}
