package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.NonRetryableException;
import dev.courier.Subscribe;
import dev.courier.reliability.deadletter.DeadLetters;
import dev.courier.reliability.deadletter.Redrive;
import dev.courier.reliability.deadletter.RedriveResult;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import dev.courier.reliability.idempotency.JdbcIdempotencyStore;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.IntervalFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

import java.io.IOException;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The reliability policy at its edges: breaker configuration and open waits, idempotency across a redrive, keys a store refuses, jitter at the cap, cyclic causes. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ReliabilityEdgeTest {

    private static final String PG_URL = System.getenv().getOrDefault("COURIER_TEST_POSTGRES_URL",
            "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");

    private final TestCouriers couriers = new TestCouriers("edge");
    private final String broker = couriers.broker;
    private final String topic = couriers.topic;

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    private Courier connect(Events events, Interceptor... interceptors) {
        return couriers.connect(events, interceptors);
    }

    /** The flow of a subscription that stays open, for a breaker driven directly. */
    private static final Interceptor.Flow OPEN_FLOW = new Interceptor.Flow() {
        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }

        @Override
        public boolean isPaused() {
            return false;
        }
    };

    private static boolean waitUntil(Duration max, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    @Test
    @DisplayName("a CircuitBreakerConfig with recordExceptions(IOException) opens the breaker when handlers keep failing with IOException")
    void breakerHonoursRecordExceptions() throws Exception {
        Events events = new Events();
        CircuitBreakerConfig config = CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(30))
                .recordExceptions(IOException.class) // only infrastructure failures count
                .build();
        Courier courier = connect(events, Reliability.builder().circuitBreaker(CircuitBreakerPolicy.of(config)).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(Subscribe.to(topic).group("g").maxAttempts(1).redeliveryDelay(Duration.ZERO), d -> {
            runs.incrementAndGet();
            throw new IOException("database unreachable");
        });
        for (int i = 0; i < 4; i++) {
            courier.publisher().publish(courier.publisher().message(topic, "m" + i).build()).toCompletableFuture().join();
        }
        waitUntil(Duration.ofSeconds(10), () -> !events.transitions.isEmpty() || events.deadLettered.size() == 4);
        assertThat(events.transitions)
                .as("breaker transitions after %d handler runs that all threw IOException (dead-lettered: %d)",
                        runs.get(), events.deadLettered.size())
                .contains(new Events.Transition("CLOSED", "OPEN"));
    }

    @Test
    @DisplayName("once the breaker closed again, its next opening waits the first open wait again (resilience4j restarts the wait interval function), not a longer one")
    void breakerOpenWaitRestartsAfterClosing() throws Exception {
        CircuitBreakerConfig config = CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(1).minimumNumberOfCalls(1).failureRateThreshold(100)
                .permittedNumberOfCallsInHalfOpenState(1)
                .waitIntervalFunctionInOpenState(IntervalFunction.ofExponentialBackoff(Duration.ofMillis(200), 40))
                .build();
        SubscriptionBreaker breaker = new SubscriptionBreaker("courier:" + topic + ":g", Subscribe.to(topic).group("g"),
                CircuitBreakerPolicy.of(config));
        List<Long> waits = new CopyOnWriteArrayList<>();
        for (int cycle = 1; cycle <= 2; cycle++) {
            // one failed attempt opens it
            breaker.admit(Runnable::run, OPEN_FLOW, () -> breaker.record(System.nanoTime(), SubscriptionBreaker.Result.FAILURE), () -> { });
            assertThat(breaker.breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
            long opened = System.nanoTime();
            boolean halfOpen = waitUntil(Duration.ofSeconds(12), () -> breaker.breaker().getState() == CircuitBreaker.State.HALF_OPEN);
            waits.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened));
            assertThat(halfOpen).as("half-open after opening #%d", cycle).isTrue();
            // one successful trial closes it
            breaker.admit(Runnable::run, OPEN_FLOW, () -> breaker.record(System.nanoTime(), SubscriptionBreaker.Result.SUCCESS), () -> { });
            assertThat(breaker.breaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        }
        assertThat(waits.get(1))
                .as("open wait (ms) of the first opening after the breaker had closed; all waits: %s", waits)
                .isLessThan(2_000);
    }

    @Test
    @DisplayName("a redriven dead letter of one group is skipped as a duplicate by another group with idempotency that already processed the message")
    void redriveDoesNotReprocessInOtherGroups() throws Exception {
        Events events = new Events();
        Reliability policy = Reliability.builder().retry(RetryPolicy.none())
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build();
        Courier courier = connect(events, policy);
        AtomicBoolean billingDown = new AtomicBoolean(true);
        List<String> billing = new CopyOnWriteArrayList<>();
        List<String> shipping = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("billing").redeliveryDelay(Duration.ZERO), d -> {
            if (billingDown.get()) {
                throw new IllegalStateException("billing down");
            }
            billing.add(d.message().id());
        });
        courier.subscribe(Subscribe.to(topic).group("shipping").redeliveryDelay(Duration.ZERO), d -> shipping.add(d.message().id()));
        Message m = courier.publisher().message(topic, "order-1").build();
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("billing dead-lettered it and shipping processed it",
                () -> events.deadLettered.contains(m.id()) && shipping.size() == 1, () -> events);

        billingDown.set(false);
        Courier admin = connect(new Events()); // no policy: the redrive itself runs plain
        RedriveResult r = DeadLetters.of(admin).redrive(Redrive.from(topic + ".billing.dlq").idleTimeout(Duration.ofMillis(500)));
        assertThat(r.redriven()).isEqualTo(1);
        Poll.until("billing processed the redriven message", () -> billing.size() == 1, () -> events);
        waitUntil(Duration.ofSeconds(10), () -> shipping.size() > 1
                || events.duplicates.stream().anyMatch(dup -> dup.key().startsWith("shipping:")));

        assertThat(shipping)
                .as("shipping handler runs; the original id was %s, shipping's duplicate reports: %s", m.id(), events.duplicates)
                .hasSize(1);
    }

    @Test
    @DisplayName("a message whose idempotency key the store refuses (longer than 512 characters) is dead-lettered, not redelivered unprocessed forever")
    void overlongKeyIsNotAnEndlessLoop() throws Exception {
        Events events = new Events();
        Reliability policy = Reliability.builder().retry(RetryPolicy.none())
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore()).inProgressRetryDelay(Duration.ofMillis(20))).build();
        Courier courier = connect(events, policy);
        Subscribe spec = Subscribe.to(topic).group("g").maxAttempts(3).redeliveryDelay(Duration.ZERO);
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec, d -> runs.incrementAndGet());
        Message m = courier.publisher().message(topic, "x").id("order-" + "7".repeat(600)).build();
        courier.publisher().publish(m).toCompletableFuture().join();

        waitUntil(Duration.ofSeconds(5), () -> runs.get() > 0 || events.deadLettered.contains(m.id()));
        assertThat(runs.get() > 0 || events.deadLettered.contains(m.id()))
                .as("processed %d times, dead-lettered: %s, settled so far: %d NACKs",
                        runs.get(), events.deadLettered.contains(m.id()), events.settled.stream().filter(s -> s.endsWith(":NACK")).count())
                .isTrue();
    }

    @Test
    @DisplayName("a message whose id PostgreSQL cannot store (a NUL character) is dead-lettered by the JDBC store, not redelivered unprocessed forever")
    void keyWithNulIsDeadLetteredByTheJdbcStore() throws Exception {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(PG_URL);
        String table = "courier_idem_edge_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        JdbcIdempotencyStore store = JdbcIdempotencyStore.builder(ds).tableName(table).createTableIfMissing(true).build();
        couriers.add(() -> {
            try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS " + table);
            }
        });
        Events events = new Events();
        Reliability policy = Reliability.builder().retry(RetryPolicy.none())
                .idempotency(Idempotency.with(store).inProgressRetryDelay(Duration.ofMillis(20))).build();
        Courier courier = connect(events, policy);
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(Subscribe.to(topic).group("g").maxAttempts(3).redeliveryDelay(Duration.ZERO), d -> runs.incrementAndGet());
        Message m = courier.publisher().message(topic, "x").id("order\u00001").build();
        courier.publisher().publish(m).toCompletableFuture().join();

        waitUntil(Duration.ofSeconds(10), () -> events.deadLettered.contains(m.id()));
        assertThat(events.deadLettered).as("dead-lettered ids; processed %d times, %d NACKs", runs.get(),
                events.settled.stream().filter(s -> s.endsWith(":NACK")).count()).contains(m.id());
        assertThat(runs).as("handler runs of a message whose key cannot be stored").hasValue(0);
    }

    @Test
    @DisplayName("jitter spreads a backoff that reached max, and a fixed backoff's draws lie on both sides of it")
    void jitterAroundTheCappedBackoff() {
        RetryPolicy capped = RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofMillis(400)).jitter(0.5);
        Set<Duration> seen = new HashSet<>();
        for (int i = 0; i < 500; i++) {
            Duration b = capped.backoffAfter(8); // nominal 12.8 s, capped at 400 ms
            assertThat(b).isBetween(Duration.ofMillis(200), Duration.ofMillis(600));
            seen.add(b);
        }
        assertThat(seen).as("distinct backoffs at the cap with jitter 0.5").hasSizeGreaterThan(50);

        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofMillis(10), 2.0, java.time.temporal.ChronoUnit.FOREVER.getDuration()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 365 days");
        assertThatThrownBy(() -> RetryPolicy.fixed(Duration.ofNanos(500))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1ms");
        assertThat(RetryPolicy.exponential(Duration.ofMillis(10), 2.0, Duration.ofDays(365)).jitter(0).backoffAfter(100))
                .as("a backoff far past the cap").isEqualTo(Duration.ofDays(365));

        RetryPolicy fixed = RetryPolicy.fixed(Duration.ofMillis(1000)).jitter(0.5);
        long sum = 0;
        int above = 0;
        int below = 0;
        for (int i = 0; i < 2000; i++) {
            long ms = fixed.backoffAfter(1).toMillis();
            assertThat(ms).isBetween(500L, 1500L);
            sum += ms;
            above += ms > 1000 ? 1 : 0;
            below += ms < 1000 ? 1 : 0;
        }
        assertThat(above).as("draws above 1 s").isGreaterThan(500);
        assertThat(below).as("draws below 1 s").isGreaterThan(500);
        assertThat(sum / 2000).as("mean of 2,000 draws (ms)").isBetween(900L, 1100L);
    }

    @Test
    @DisplayName("a failure whose cause chain is a cycle (A -> B -> A) is decided on: retried unless a NonRetryableException is in it")
    void causeCycleIsDecidedOn() throws Exception {
        RuntimeException a = new RuntimeException("a");
        RuntimeException b = new RuntimeException("b");
        a.initCause(b);
        b.initCause(a);
        CompletableFuture<Boolean> retryable = CompletableFuture.supplyAsync(() -> RetryPolicy.ofDefaults().isRetryable(a));
        assertThat(retryable.get(10, TimeUnit.SECONDS)).isTrue();

        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(RetryPolicy.fixed(Duration.ofMillis(10)).attempts(2)).build());
        courier.subscribe(Subscribe.to(topic).group("g").maxAttempts(1), d -> {
            RuntimeException x = new RuntimeException("x");
            NonRetryableException y = new NonRetryableException("y", x);
            x.initCause(y);
            throw x;
        });
        Message m = courier.publisher().message(topic, "cyclic").build();
        courier.publisher().publish(m).toCompletableFuture().join();
        waitUntil(Duration.ofSeconds(10), () -> events.deadLettered.contains(m.id()));
        assertThat(events.deadLettered).as("dead-lettered ids").contains(m.id());
    }

    @Test
    @DisplayName("listing dead letters on a Courier whose policy has a handler timeout consumes nothing: the listing runs outside the policy")
    void listingDeadLettersOnACourierWithAHandlerTimeoutConsumesNothing() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(20)).jitter(0).attempts(2))
                .handlerTimeout(Duration.ofMillis(300)).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20));
        courier.subscribe(spec, d -> {
            throw new NonRetryableException("bad order");
        });
        courier.publisher().publish(courier.publisher().message(topic, "x").build()).toCompletableFuture().join();
        Poll.until("dead-lettered", () -> events.deadLettered.size() == 1, () -> events);

        DeadLetters dl = DeadLetters.of(courier);
        assertThat(dl.list(spec.deadLetterTopic(), 10, Duration.ofSeconds(2))).hasSize(1);
        assertThat(dl.list(spec.deadLetterTopic(), 10, Duration.ofSeconds(2)))
                .as("the dead letter is still pending after a list (events: %s)", events).hasSize(1);
        assertThat(events.timedOut).as("the listing's held deliveries are not timed out").hasSize(0);
        assertThat(events.deadLettered).as("nothing dead-lettered but the original message").hasSize(1);
    }
}
