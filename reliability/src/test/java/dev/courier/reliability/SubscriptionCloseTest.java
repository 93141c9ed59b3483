package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A delivery that waits in the policy (a retry backoff, a hold by an open breaker) when its
 * subscription closes is given back to the broker; its handler never runs after close() returned.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SubscriptionCloseTest {

    private final TestCouriers couriers = new TestCouriers("close");
    private final String broker = couriers.broker;
    private final String topic = couriers.topic;

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    private Courier connect(Events events, Interceptor... interceptors) {
        return couriers.connect(events, interceptors);
    }

    @Test
    void backoffDoesNotRunTheHandlerAfterItsSubscriptionClosed() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofSeconds(2)).jitter(0).attempts(3)).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ofMillis(200));
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger runsAfterClose = new AtomicInteger();
        Subscription sub = courier.subscribe(spec, d -> {
            if (closed.get()) {
                runsAfterClose.incrementAndGet();
            }
            throw new IllegalStateException("downstream down");
        });
        Message m = courier.publisher().message(topic, "x").build();
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("the first attempt failed and waits for its backoff", () -> events.retries.size() == 1, () -> events);
        sub.close();
        closed.set(true);

        AtomicInteger newRuns = new AtomicInteger();
        courier.subscribe(spec, d -> newRuns.incrementAndGet());
        Poll.until("the new subscriber processed the message", () -> newRuns.get() == 1, () -> events);
        Thread.sleep(3_000); // past the old delivery's backoff
        assertThat(runsAfterClose.get()).as("handler runs of the closed subscription after close() returned").isZero();
    }

    @Test
    void heldDeliveryDoesNotRunTheHandlerAfterItsSubscriptionClosed() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(2))
                .circuitBreaker(CircuitBreakerPolicy.of(50, 1, 1, Duration.ofSeconds(2))).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ofMillis(200))
                .concurrency(2).ordering(Ordering.NONE);
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger runsAfterClose = new AtomicInteger();
        Subscription sub = courier.subscribe(spec, d -> {
            if (closed.get()) {
                runsAfterClose.incrementAndGet();
            }
            if (d.payload(String.class).equals("b")) {
                // b fails only once a's failure opened the breaker: its retry is then held
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (!events.sawTransitionTo("OPEN") && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
            }
            throw new IllegalStateException("downstream down");
        });
        courier.publisher().publish(courier.publisher().message(topic, "b").build()).toCompletableFuture().join();
        courier.publisher().publish(courier.publisher().message(topic, "a").build()).toCompletableFuture().join();
        Poll.until("the breaker opens", () -> events.sawTransitionTo("OPEN"), () -> events);
        Poll.until("b failed and its retry is held", () -> events.retries.size() >= 2, () -> events);
        Thread.sleep(100);
        sub.close();
        closed.set(true);
        Thread.sleep(3_000); // past the open wait: the breaker goes half-open and admits what it held
        assertThat(runsAfterClose.get()).as("handler runs of the closed subscription after close() returned").isZero();
    }
}
