package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.MessageHandler;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A delivery that waits in the policy (a retry backoff, a hold by an open breaker) when its
 * subscription closes is given back to the broker as the close starts: its handler never runs
 * after close() returned, and the close does not wait for the end of its wait.
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

    /** A handler that always fails, counting its runs once {@code closed} is set. */
    private static MessageHandler alwaysFailing(AtomicBoolean closed, AtomicInteger runsAfterClose) {
        return d -> {
            if (closed.get()) {
                runsAfterClose.incrementAndGet();
            }
            throw new IllegalStateException("downstream down");
        };
    }

    @Test
    void backoffDoesNotRunTheHandlerAfterItsSubscriptionClosed() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofSeconds(2)).jitter(0).attempts(3)).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ofMillis(200));
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger runsAfterClose = new AtomicInteger();
        Subscription sub = courier.subscribe(spec, alwaysFailing(closed, runsAfterClose));
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

    /** A close with an open breaker: the held deliveries go back to the broker at once, not when the breaker would have half-opened. */
    @Test
    void courierCloseGivesBackDeliveriesHeldByAnOpenBreakerAtOnce() throws Exception {
        Events events = new Events();
        Courier courier = couriers.connect(Map.of("courier.close.timeout", "30s"), events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(2))
                .circuitBreaker(CircuitBreakerPolicy.of(50, 1, 1, Duration.ofSeconds(60))).build());
        int n = 3;
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ofSeconds(30))
                .concurrency(n).ordering(Ordering.NONE);
        CountDownLatch allStarted = new CountDownLatch(n);
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger runsAfterClose = new AtomicInteger();
        courier.subscribe(spec, d -> {
            if (closed.get()) {
                runsAfterClose.incrementAndGet();
            }
            allStarted.countDown();
            allStarted.await(); // all fail together: the first failure opens the breaker, every retry is held
            throw new IllegalStateException("downstream down");
        });
        Set<String> ids = publish(courier, n);
        Courier next = couriers.connect(new Events()); // keeps the mem:// broker (and the group's messages) once the first Courier closed
        Poll.until("the breaker opened and every message failed once", () -> events.sawTransitionTo("OPEN") && events.retries.size() == n,
                () -> events);
        Thread.sleep(200); // the retries' 10 ms backoffs end: the breaker holds them

        long start = System.nanoTime();
        courier.close();
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        closed.set(true);

        assertThat(took).as("close() with only held deliveries (close timeout and drain timeout 30 s)").isLessThan(Duration.ofSeconds(10));
        assertThat(events.acked).as("acked by the closed subscription").isEmpty();
        assertThat(events.deadLettered).as("dead-lettered by the closed subscription").isEmpty();
        assertRedeliveredToTheGroup(next, spec, ids);
        assertThat(runsAfterClose.get()).as("handler runs of the closed subscription after close() returned").isZero();
    }

    /** A close during a long retry backoff: the delivery goes back to the broker at once, not when the backoff ends. */
    @Test
    void subscriptionCloseGivesBackADeliveryWaitingOutABackoffAtOnce() throws Exception {
        Events events = new Events();
        // longer than the close may take, shorter than the drain timeout: the close used to wait for it
        Duration backoff = Duration.ofSeconds(20);
        Courier courier = connect(events, Reliability.builder().retry(RetryPolicy.fixed(backoff).jitter(0).attempts(3)).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ofSeconds(30));
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger runsAfterClose = new AtomicInteger();
        Subscription sub = courier.subscribe(spec, alwaysFailing(closed, runsAfterClose));
        Set<String> ids = publish(courier, 1);
        Poll.until("the first attempt failed and waits for its backoff", () -> events.retries.size() == 1, () -> events);

        long start = System.nanoTime();
        sub.close(Duration.ofSeconds(30));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        closed.set(true);

        assertThat(took).as("close() with only a delivery in its " + backoff.toSeconds() + " s backoff (drain timeout 30 s)")
                .isLessThan(Duration.ofSeconds(10));
        Poll.until("the delivery was given back", () -> events.settled.size() == 1, () -> events);
        assertThat(events.settled).as("given back unacked, the retry's backoff kept").containsExactly(ids.iterator().next() + ":NACK");
        assertThat(events.retries).as("no attempt after the close").hasSize(1);
        // the broker redelivers it once the backoff it was given back with is over
        assertRedeliveredToTheGroup(couriers.connect(new Events()), spec, ids);
        assertThat(runsAfterClose.get()).as("handler runs of the closed subscription after close() returned").isZero();
    }

    private Set<String> publish(Courier courier, int n) {
        Set<String> ids = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) {
            Message m = courier.publisher().message(topic, "m" + i).build();
            courier.publisher().publish(m).toCompletableFuture().join();
            ids.add(m.id());
        }
        return ids;
    }

    /** A new subscriber of the group, on {@code courier} (without the policy), receives every one of {@code ids}. */
    private static void assertRedeliveredToTheGroup(Courier courier, Subscribe spec, Set<String> ids) throws Exception {
        List<String> received = new CopyOnWriteArrayList<>();
        courier.subscribe(spec, d -> received.add(d.message().id()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!received.containsAll(ids) && System.nanoTime() - deadline < 0) {
            Thread.sleep(10);
        }
        assertThat(received).as("redelivered to a new subscriber of the group").containsAll(ids);
    }
}
