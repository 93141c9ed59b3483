package dev.courier.reliability;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.NonRetryableException;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.reliability.idempotency.IdempotencyStore;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The reliability policy on the in-memory broker (a real broker in this JVM, nothing mocked). */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ReliabilityTest {

    private static final RetryPolicy QUICK = RetryPolicy.fixed(Duration.ofMillis(20)).jitter(0);

    private final TestCouriers couriers = new TestCouriers("rel");
    private final String broker = couriers.broker;
    private final String topic = couriers.topic;

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    private Courier connect(Events events, Interceptor... interceptors) {
        return couriers.connect(events, interceptors);
    }

    private static Subscribe spec(String topic) {
        return Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).maxAttempts(2);
    }

    private static List<Message> deadLetters(Courier courier, Subscribe spec) {
        List<Message> dlq = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group("dlq-reader"), d -> dlq.add(d.message()));
        return dlq;
    }

    private static Message publish(Courier courier, String topic, String text) {
        Message m = courier.publisher().message(topic, text).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        return m;
    }

    @Test
    @DisplayName("a handler that fails twice succeeds on its third in-process attempt, within one delivery")
    void retryThenSuccess() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(QUICK.attempts(3)).build());
        List<Integer> deliveryAttempts = new CopyOnWriteArrayList<>();
        courier.subscribe(spec(topic), d -> {
            deliveryAttempts.add(d.attempt());
            if (deliveryAttempts.size() < 3) {
                throw new IllegalStateException("flaky " + deliveryAttempts.size());
            }
        });
        Message m = publish(courier, topic, "hello");

        Poll.until("the message is acked", () -> events.acked.contains(m.id()), () -> events);
        assertThat(deliveryAttempts).as("handler runs, all within broker delivery 1").containsExactly(1, 1, 1);
        assertThat(events.retries).extracting(Events.Retry::attempt).containsExactly(1, 2);
        assertThat(events.retries).allMatch(Events.Retry::inProcess);
        assertThat(events.settled).as("one settlement: the subscription's maxAttempts=2 did not interfere").containsExactly(m.id() + ":ACK");
    }

    @Test
    @DisplayName("a handler that keeps failing is dead-lettered after its attempts, with every failure header")
    void retryThenDeadLetter() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(QUICK.attempts(3)).build());
        Subscribe spec = spec(topic);
        List<Message> dlq = deadLetters(courier, spec);
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec, d -> {
            throw new IllegalStateException("down " + runs.incrementAndGet());
        });
        Instant before = Instant.now();
        Message m = courier.publisher().message(topic, "order").key("k-1").header("x-trace", "t-1").build();
        courier.publisher().publish(m).toCompletableFuture().join();

        Poll.until("the dead letter arrives", () -> dlq.size() == 1, () -> events);
        Message dead = dlq.get(0);
        assertThat(runs.get()).isEqualTo(3);
        assertThat(dead.payload()).isEqualTo(m.payload());
        assertThat(dead.key()).isEqualTo("k-1");
        assertThat(dead.header("x-trace")).isEqualTo("t-1");
        assertThat(dead.header(HeaderNames.DLQ_REASON)).startsWith("gave up after 3 attempt(s)").contains("down 3");
        assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(IllegalStateException.class.getName());
        assertThat(dead.header(HeaderNames.DLQ_EXCEPTION_MESSAGE)).isEqualTo("down 3");
        assertThat(dead.header(HeaderNames.DLQ_STACK)).contains("IllegalStateException").contains("ReliabilityTest");
        assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).isEqualTo(topic);
        assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).isEqualTo("g");
        assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("3");
        assertThat(dead.header(HeaderNames.DLQ_POSITION)).isNotBlank();
        Instant first = Instant.parse(dead.header(HeaderNames.DLQ_FIRST_FAILURE));
        Instant last = Instant.parse(dead.header(HeaderNames.DLQ_LAST_FAILURE));
        assertThat(first).isAfterOrEqualTo(before.minusSeconds(1)).isBeforeOrEqualTo(last);
        assertThat(Instant.parse(dead.header(HeaderNames.DLQ_TIME))).isAfterOrEqualTo(first);
        assertThat(events.deadLettered).containsExactly(m.id());
        assertThat(events.retries).hasSize(2);
    }

    @Test
    @DisplayName("NonRetryableException and neverRetryOn classes are dead-lettered after one attempt")
    void nonRetryableGoesToDeadLetterAtOnce() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(QUICK.attempts(5).neverRetryOn(IllegalArgumentException.class).thenRedeliverAfter(Duration.ofMillis(10))).build());
        Subscribe spec = spec(topic);
        List<Message> dlq = deadLetters(courier, spec);
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        courier.subscribe(spec, d -> {
            runs.computeIfAbsent(d.message().id(), k -> new AtomicInteger()).incrementAndGet();
            String text = d.payload(String.class);
            if (text.equals("fatal")) {
                throw new RuntimeException("wrapped", new NonRetryableException("order malformed"));
            }
            throw new IllegalArgumentException("bad argument");
        });
        Message fatal = publish(courier, topic, "fatal");
        Message bad = publish(courier, topic, "bad");

        Poll.until("both are dead-lettered", () -> dlq.size() == 2, () -> events);
        assertThat(runs.get(fatal.id())).hasValue(1);
        assertThat(runs.get(bad.id())).hasValue(1);
        assertThat(events.retries).isEmpty();
        Map<String, Message> byId = new ConcurrentHashMap<>();
        dlq.forEach(dm -> byId.put(dm.id(), dm));
        assertThat(byId.get(fatal.id()).header(HeaderNames.DLQ_REASON)).startsWith("non-retryable failure").contains("wrapped");
        assertThat(byId.get(bad.id()).header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(IllegalArgumentException.class.getName());
        assertThat(byId.get(bad.id()).header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("1");
    }

    @Test
    @DisplayName("a delivery waiting for its backoff holds only its key: other keys proceed, later messages of its key wait")
    void backoffHoldsOnlyItsKey() {
        Events events = new Events();
        // a backoff far longer than the test: the held delivery is still waiting when we look
        Courier courier = connect(events, Reliability.builder().retry(RetryPolicy.fixed(Duration.ofMinutes(5)).jitter(0).attempts(2)).build());
        List<String> handled = new CopyOnWriteArrayList<>();
        Subscription sub = courier.subscribe(spec(topic).concurrency(4).ordering(Ordering.BY_KEY).drainTimeout(Duration.ofMillis(200)), d -> {
            String text = d.payload(String.class);
            handled.add(text);
            if (text.equals("a-1")) {
                throw new IllegalStateException("a-1 fails once");
            }
        });
        courier.publisher().publish(courier.publisher().message(topic, "a-1").key("a").build()).toCompletableFuture().join();
        Poll.until("a-1 failed and waits for its retry", () -> events.retries.size() == 1, () -> events);
        courier.publisher().publish(courier.publisher().message(topic, "a-2").key("a").build()).toCompletableFuture().join();
        for (int i = 0; i < 5; i++) {
            courier.publisher().publish(courier.publisher().message(topic, "b-" + i).key("b").build()).toCompletableFuture().join();
        }

        Poll.until("key b is handled meanwhile", () -> handled.containsAll(List.of("b-0", "b-1", "b-2", "b-3", "b-4")), () -> handled);
        assertThat(handled).as("a-1 ran once and a-2 waits behind it").containsOnlyOnce("a-1").doesNotContain("a-2");
        assertThat(events.settled).noneMatch(s -> s.startsWith(events.retries.get(0).id()));
        sub.close();
    }

    @Test
    @DisplayName("after the in-process attempts the broker redelivers after each configured delay, then the message is dead-lettered")
    void brokerRedeliveryStagesThenDeadLetter() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(QUICK.attempts(2).thenRedeliverAfter(Duration.ofMillis(50), Duration.ofMillis(100))).build());
        Subscribe spec = spec(topic);
        List<Message> dlq = deadLetters(courier, spec);
        List<Integer> deliveryAttempts = new CopyOnWriteArrayList<>();
        courier.subscribe(spec, d -> {
            deliveryAttempts.add(d.attempt());
            throw new IllegalStateException("still down");
        });
        Message m = publish(courier, topic, "x");

        Poll.until("the dead letter arrives", () -> dlq.size() == 1, () -> events);
        assertThat(deliveryAttempts).as("two in-process attempts per broker delivery, three deliveries").containsExactly(1, 1, 2, 2, 3, 3);
        List<Events.Retry> broker = events.retries.stream().filter(r -> !r.inProcess()).toList();
        assertThat(broker).extracting(Events.Retry::delay).containsExactly(Duration.ofMillis(50), Duration.ofMillis(100));
        assertThat(broker).extracting(Events.Retry::attempt).containsExactly(2, 4);
        assertThat(events.settled).containsExactly(m.id() + ":NACK", m.id() + ":NACK", m.id() + ":DEAD_LETTER");
        assertThat(dlq.get(0).header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("6");
        assertThat(dlq.get(0).header(HeaderNames.DLQ_REASON)).startsWith("gave up after 6 attempt(s)");
    }

    @Test
    @DisplayName("an attempt that runs past the handler timeout is interrupted and counts as failed; the retry then succeeds")
    void handlerTimeoutCountsAsFailure() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(QUICK.attempts(3)).handlerTimeout(Duration.ofMillis(300)).build());
        AtomicInteger runs = new AtomicInteger();
        AtomicBoolean interrupted = new AtomicBoolean();
        courier.subscribe(spec(topic), d -> {
            if (runs.incrementAndGet() == 1) {
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException e) {
                    interrupted.set(true);
                    return; // returns normally, but too late: the attempt already failed
                }
            }
        });
        Message m = publish(courier, topic, "slow");

        Poll.until("the message is acked", () -> events.acked.contains(m.id()), () -> events);
        assertThat(interrupted).as("the handler thread was interrupted").isTrue();
        assertThat(runs.get()).isEqualTo(2);
        assertThat(events.timedOut).containsExactly(m.id());
        assertThat(events.retries).hasSize(1);
        assertThat(events.retries.get(0).cause()).isInstanceOf(HandlerTimeoutException.class);
    }

    @Test
    @DisplayName("an async handler that never completes times out and is retried")
    void asyncHandlerTimeout() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(QUICK.attempts(2)).handlerTimeout(Duration.ofMillis(200)).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribeAsync(spec(topic), d -> runs.incrementAndGet() == 1 ? new CompletableFuture<>() : CompletableFuture.completedFuture(null));
        Message m = publish(courier, topic, "slow");

        Poll.until("the message is acked", () -> events.acked.contains(m.id()), () -> events);
        assertThat(runs.get()).isEqualTo(2);
        assertThat(events.timedOut).containsExactly(m.id());
    }

    @Test
    @DisplayName("an open breaker pauses the subscription and holds deliveries; nothing is dead-lettered; all are processed after recovery")
    void circuitBreakerPausesAndResumes() {
        Events events = new Events();
        Reliability policy = Reliability.builder()
                .retry(QUICK.attempts(10))
                .circuitBreaker(CircuitBreakerPolicy.of(50, 4, 4, Duration.ofSeconds(1)))
                .build();
        Courier courier = connect(events, policy);
        Subscribe spec = spec(topic).concurrency(4).ordering(Ordering.NONE);
        List<Message> dlq = deadLetters(courier, spec);
        AtomicBoolean down = new AtomicBoolean(true);
        Map<String, Boolean> processed = new ConcurrentHashMap<>();
        Subscription sub = courier.subscribe(spec, d -> {
            if (down.get()) {
                throw new IllegalStateException("downstream unavailable");
            }
            processed.put(d.message().id(), true);
        });
        events.watched.set(sub);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            ids.add(publish(courier, topic, "m-" + i).id());
        }

        Poll.until("the breaker opens", () -> events.sawTransitionTo("OPEN"), () -> events);
        down.set(false);

        Poll.until("every message is processed", () -> processed.keySet().containsAll(ids), () -> processed.size() + " processed; " + events);
        Poll.until("the breaker closes", () -> events.sawTransitionTo("CLOSED"), () -> events);
        Poll.until("the subscription runs again", () -> !sub.isPaused(), () -> events);
        assertThat(events.pausedWhenOpened).as("subscription paused when the breaker opened").isNotEmpty().allMatch(p -> p);
        assertThat(dlq).as("dead letters").isEmpty();
        assertThat(events.deadLettered).isEmpty();
        assertThat(events.transitions.get(0)).isEqualTo(new Events.Transition("CLOSED", "OPEN"));
    }

    @Test
    @DisplayName("the same message published twice is processed once; the duplicate is acked and reported")
    void duplicateIsProcessedOnce() {
        Events events = new Events();
        InMemoryIdempotencyStore store = new InMemoryIdempotencyStore();
        Courier courier = connect(events, Reliability.builder().idempotency(Idempotency.with(store)).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec(topic), d -> runs.incrementAndGet());
        Message m = courier.publisher().message(topic, "pay o-1").id("pay-" + UUID.randomUUID()).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        courier.publisher().publish(m).toCompletableFuture().join();

        Poll.until("both copies are acked", () -> events.acked.size() == 2, () -> events);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(events.duplicates).containsExactly(new Events.Duplicate(m.id(), "g:" + m.id(), false));
    }

    @Test
    @DisplayName("a consumer that completed a message but died before acking: the redelivery is skipped")
    void crashAfterCompleteBeforeAck() {
        InMemoryIdempotencyStore store = new InMemoryIdempotencyStore();
        Events first = new Events();
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch processed = new CountDownLatch(1);
        // outermost link of the first consumer: lets the policy finish (store completed) and then never acks, as if the process died
        Interceptor dieBeforeAck = chain -> chain.proceed(chain.delivery()).thenCompose(o -> {
            processed.countDown();
            return new CompletableFuture<>();
        });
        Courier dying = connect(first, dieBeforeAck, Reliability.builder().idempotency(Idempotency.with(store)).build());
        Subscribe spec = spec(topic).drainTimeout(Duration.ofMillis(200));
        dying.subscribe(spec, d -> runs.incrementAndGet());
        Message m = publish(dying, topic, "charge card");
        Poll.until("the first consumer processed it", () -> processed.getCount() == 0, () -> first);

        Events second = new Events();
        Courier survivor = connect(second, Reliability.builder().idempotency(Idempotency.with(store)).build());
        dying.close();
        assertThat(first.acked).isEmpty();
        survivor.subscribe(spec, d -> runs.incrementAndGet());

        Poll.until("the redelivery is acked", () -> second.acked.contains(m.id()), () -> second);
        assertThat(runs.get()).as("handler runs").isEqualTo(1);
        assertThat(second.duplicates).containsExactly(new Events.Duplicate(m.id(), "g:" + m.id(), false));
    }

    @Test
    @DisplayName("a duplicate arriving while the original is processing is nacked, not processed, and skipped once the original is done")
    void inProgressDuplicateIsNacked() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore()).inProgressRetryDelay(Duration.ofMillis(50))).build());
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        courier.subscribe(spec(topic).concurrency(2).ordering(Ordering.NONE), d -> {
            runs.incrementAndGet();
            assertThat(release.await(60, TimeUnit.SECONDS)).isTrue();
        });
        Message m = courier.publisher().message(topic, "ship o-1").id("ship-" + UUID.randomUUID()).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        courier.publisher().publish(m).toCompletableFuture().join();

        Poll.until("the duplicate is seen in progress", () -> events.duplicates.stream().anyMatch(Events.Duplicate::inProgress), () -> events);
        assertThat(events.settled).contains(m.id() + ":NACK").doesNotContain(m.id() + ":ACK");
        release.countDown();
        Poll.until("both copies are acked", () -> events.acked.size() == 2, () -> events);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(events.duplicates).last().isEqualTo(new Events.Duplicate(m.id(), "g:" + m.id(), false));
    }

    @Test
    @DisplayName("a dead-lettered message's key is released: the same message published again is processed again")
    void deadLetteredMessageCanBeProcessedAgain() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder().retry(QUICK.attempts(1))
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
        Subscribe spec = spec(topic);
        List<Message> dlq = deadLetters(courier, spec);
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec, d -> {
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("first time fails");
            }
        });
        Message m = courier.publisher().message(topic, "redrive me").id("r-" + UUID.randomUUID()).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("dead-lettered", () -> dlq.size() == 1, () -> events);
        courier.publisher().publish(m).toCompletableFuture().join(); // the redrive
        Poll.until("the redriven copy is acked", () -> events.acked.contains(m.id()), () -> events);
        assertThat(runs.get()).isEqualTo(2);
        assertThat(events.duplicates).isEmpty();
    }

    @Test
    @DisplayName("while the idempotency store fails, messages are nacked unprocessed; once it is back they are processed")
    void storeFailureNacksWithoutProcessing() {
        Events events = new Events();
        AtomicBoolean storeDown = new AtomicBoolean(true);
        InMemoryIdempotencyStore real = new InMemoryIdempotencyStore();
        IdempotencyStore flaky = new IdempotencyStore() {
            @Override
            public Claim claim(String key, String owner, Duration lease) {
                if (storeDown.get()) {
                    throw new IllegalStateException("store unreachable");
                }
                return real.claim(key, owner, lease);
            }

            @Override
            public boolean complete(String key, String owner, Duration retention) {
                return real.complete(key, owner, retention);
            }

            @Override
            public void release(String key, String owner) {
                real.release(key, owner);
            }
        };
        Courier courier = connect(events, Reliability.builder()
                .idempotency(Idempotency.with(flaky).inProgressRetryDelay(Duration.ofMillis(30))).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec(topic).maxAttempts(1), d -> runs.incrementAndGet());
        Message m = publish(courier, topic, "x");

        Poll.until("the message is nacked twice while the store is down", () -> events.settled.stream().filter(s -> s.endsWith(":NACK")).count() >= 2,
                () -> events);
        assertThat(runs.get()).as("handler runs while the store is down").isZero();
        storeDown.set(false);
        Poll.until("the message is acked", () -> events.acked.contains(m.id()), () -> events);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(events.deadLettered).isEmpty();
    }

    @Test
    @DisplayName("courier.reliability.* keys alone install the policy; an explicit Reliability wins over them")
    void configuredThroughKeys() {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url(broker)
                .set(Reliability.RETRY_ATTEMPTS, "3")
                .set(Reliability.RETRY_INITIAL_BACKOFF, "10ms")
                .set(Reliability.RETRY_JITTER, "0")
                .set(Reliability.RETRY_REDELIVER_AFTER, "20ms")
                .set(Reliability.IDEMPOTENCY_STORE, "memory")
                .build();
        Events events = new Events();
        Courier courier = Courier.builder().config(config).listener(events).connect();
        couriers.add(courier);
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        courier.subscribe(spec(topic).maxAttempts(1), d -> {
            attempts.add(d.attempt());
            if (attempts.size() < 5) {
                throw new IllegalStateException("not yet");
            }
        });
        Message m = courier.publisher().message(topic, "cfg").id("cfg-" + UUID.randomUUID()).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("acked after 3 + 2 attempts", () -> events.acked.contains(m.id()), () -> events);
        assertThat(attempts).containsExactly(1, 1, 1, 2, 2);
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("the duplicate is skipped by the configured store", () -> events.duplicates.size() == 1, () -> events);

        // explicit wins: one attempt, no redelivery stages, so the first failure dead-letters
        Events explicit = new Events();
        String other = topic + ".explicit";
        Courier withExplicit = Courier.builder().config(config).listener(explicit)
                .interceptor(Reliability.builder().retry(RetryPolicy.none()).build()).connect();
        couriers.add(withExplicit);
        AtomicInteger runs = new AtomicInteger();
        withExplicit.subscribe(spec(other).maxAttempts(5), d -> {
            runs.incrementAndGet();
            throw new IllegalStateException("always");
        });
        Message x = publish(withExplicit, other, "x");
        Poll.until("dead-lettered after one attempt", () -> explicit.deadLettered.contains(x.id()), () -> explicit);
        assertThat(runs.get()).isEqualTo(1);
    }

    @Test
    @DisplayName("fromConfig reads every key, also as environment variables turn them, and names a bad key and value")
    void fromConfigKeys() {
        Reliability r = Reliability.fromConfig(CourierConfig.builder().withoutEnvironment()
                .set(Reliability.RETRY_ATTEMPTS, "4")
                .set(Reliability.RETRY_MULTIPLIER, "3")
                .set("courier.reliability.retry.max.backoff", "7s")  // COURIER_RELIABILITY_RETRY_MAX_BACKOFF
                .set(Reliability.RETRY_REDELIVER_AFTER, "1m, 10m")
                .set(Reliability.HANDLER_TIMEOUT, "30s")
                .set(Reliability.BREAKER_WAIT_IN_OPEN, "10s")
                .set(Reliability.BREAKER_MINIMUM_CALLS, "5")
                .set(Reliability.IDEMPOTENCY_STORE, "memory")
                .set(Reliability.IDEMPOTENCY_LEASE, "2m")
                .build());
        assertThat(r.retry().attempts()).isEqualTo(4);
        assertThat(r.retry().multiplier()).isEqualTo(3.0);
        assertThat(r.retry().maxBackoff()).isEqualTo(Duration.ofSeconds(7));
        assertThat(r.retry().redeliverAfter()).containsExactly(Duration.ofMinutes(1), Duration.ofMinutes(10));
        assertThat(r.handlerTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(r.circuitBreaker().config().getMinimumNumberOfCalls()).isEqualTo(5);
        assertThat(r.circuitBreaker().config().getFailureRateThreshold()).isEqualTo(50f);
        assertThat(r.idempotency().lease()).isEqualTo(Duration.ofMinutes(2));
        assertThat(r.idempotency().retention()).isEqualTo(Duration.ofDays(1));

        Reliability defaults = Reliability.fromConfig(CourierConfig.builder().withoutEnvironment().set(Reliability.ENABLED, "true").build());
        assertThat(defaults.retry().attempts()).isEqualTo(RetryPolicy.DEFAULT_ATTEMPTS);
        assertThat(defaults.circuitBreaker()).isNull();
        assertThat(defaults.idempotency()).isNull();
        assertThat(defaults.handlerTimeout()).isNull();

        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.RETRY_JITTER, "lots")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.RETRY_JITTER + "=lots");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.RETRY_JITTER, "1.5")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.RETRY_JITTER + "=1.5").hasMessageContaining("jitter");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.RETRY_ATTEMPTS, "0")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.RETRY_ATTEMPTS + "=0");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.RETRY_REDELIVER_AFTER, "1m,soon")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("soon");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.IDEMPOTENCY_STORE, "postgres")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.IDEMPOTENCY_STORE + "=postgres");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Reliability.BREAKER_FAILURE_RATE, "150")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.BREAKER_FAILURE_RATE + "=150");
        assertThatThrownBy(() -> Courier.builder().config(CourierConfig.builder().withoutEnvironment().url(broker)
                .set(Reliability.HANDLER_TIMEOUT, "forever").build()).connect())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.HANDLER_TIMEOUT + "=forever");
    }

    private static CourierConfig config(String key, String value) {
        return CourierConfig.builder().withoutEnvironment().set(key, value).build();
    }

    @Test
    @DisplayName("policy builders refuse out-of-range values with the allowed range")
    void buildersValidate() {
        assertThatThrownBy(() -> RetryPolicy.ofDefaults().attempts(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 to 100");
        assertThatThrownBy(() -> RetryPolicy.ofDefaults().jitter(1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("below 1");
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(2), 2, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not be shorter");
        assertThatThrownBy(() -> Reliability.builder().handlerTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Idempotency.with(new InMemoryIdempotencyStore()).lease(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofMillis(250)).jitter(0);
        assertThat(List.of(p.backoffAfter(1), p.backoffAfter(2), p.backoffAfter(3)))
                .containsExactly(Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(250));
        RetryPolicy jittered = p.jitter(0.5);
        for (int i = 0; i < 100; i++) {
            assertThat(jittered.backoffAfter(1)).isBetween(Duration.ofMillis(50), Duration.ofMillis(150));
        }
    }
}
