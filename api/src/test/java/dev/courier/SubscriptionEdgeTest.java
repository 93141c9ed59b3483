package dev.courier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Subscriptions at their edges on the in-memory broker: dead-letter topic names, settlements that
 * fail, checked exceptions from user code, closing a subscription from inside its handler.
 */
class SubscriptionEdgeTest {

    /** Drain timeout of the subscriptions closed from inside their handlers. */
    private static final Duration DRAIN = Duration.ofSeconds(2);

    private final List<Courier> opened = new CopyOnWriteArrayList<>();

    private Courier connect() {
        return connect(Courier.builder());
    }

    private Courier connect(Courier.Builder builder) {
        Courier c = builder.config(CourierConfig.builder().withoutEnvironment().url("mem://edge-" + UUID.randomUUID())
                .set(CourierConfig.CLOSE_TIMEOUT, "2s").build()).connect();
        opened.add(c);
        return c;
    }

    @AfterEach
    void closeAll() {
        for (Courier c : opened) {
            c.close();
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> RuntimeException sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    private static void publish(Courier courier, String topic, String text) throws Exception {
        courier.publisher().publish(topic, text).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    // ---------------------------------------------------------------- dead-letter topic names

    @Test
    @DisplayName("a subscription whose default dead-letter topic would be too long is refused when it is created")
    void tooLongDefaultDeadLetterTopicIsRefused() {
        Courier courier = connect();
        String topic = "t".repeat(Destinations.MAX_LENGTH);

        assertThatThrownBy(() -> courier.subscribe(Subscribe.to(topic).group("g"), d -> { }))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(topic.substring(0, 40))
                .hasMessageContaining("deadLetterTopic");
        assertThatThrownBy(() -> courier.subscribeAsync(Subscribe.to(topic), d -> null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("deadLetterTopic");
        assertThatThrownBy(() -> courier.respond(Subscribe.to(topic).group("g"), d -> "ok"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("deadLetterTopic");
        // a group that leaves no room for the suffix is named in the message too
        String almost = "t".repeat(Destinations.MAX_LENGTH - 20);
        assertThatThrownBy(() -> courier.subscribe(Subscribe.to(almost).group("g".repeat(20)), d -> { }))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("group");
    }

    @Test
    @DisplayName("a long topic with an explicit dead-letter topic dead-letters its failures there and goes on")
    void longTopicWithExplicitDeadLetterTopic() throws Exception {
        Courier courier = connect();
        String topic = "t".repeat(Destinations.MAX_LENGTH);
        List<String> handled = new CopyOnWriteArrayList<>();
        CountDownLatch fine = new CountDownLatch(1);
        courier.subscribe(Subscribe.to(topic).group("g").maxAttempts(1).deadLetterTopic("long.dlq"), d -> {
            String text = d.payload(String.class);
            handled.add(text);
            if (text.equals("poison")) {
                throw new IllegalStateException("cannot handle " + text);
            }
            fine.countDown();
        });
        List<String> dead = new CopyOnWriteArrayList<>();
        CountDownLatch deadLettered = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("long.dlq").group("ops"), d -> {
            dead.add(d.payload(String.class));
            deadLettered.countDown();
        });

        publish(courier, topic, "poison");
        publish(courier, topic, "fine");

        assertThat(fine.await(10, TimeUnit.SECONDS)).as("the message after the failing one is handled; handled: %s", handled).isTrue();
        assertThat(deadLettered.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(dead).containsExactly("poison");
    }

    @Test
    @DisplayName("a dead letter that cannot even be built leaves its message to be redelivered instead of holding it")
    void unbuildableDeadLetterIsRedelivered() throws Exception {
        // an interceptor asking for a dead letter with a header the message builder refuses (an empty name)
        Interceptor badHeader = chain -> chain.delivery().attempt() == 1
                ? CompletableFuture.completedFuture(Outcome.deadLetter("no", null).withDeadLetterHeaders(Map.of("", "x")))
                : chain.proceed(chain.delivery());
        Courier courier = connect(Courier.builder().interceptor(badHeader));
        List<String> handled = new CopyOnWriteArrayList<>();
        CountDownLatch both = new CountDownLatch(2);
        courier.subscribe(Subscribe.to("unbuildable").group("g").redeliveryDelay(Duration.ofMillis(20)), d -> {
            handled.add(d.payload(String.class) + "@" + d.attempt());
            both.countDown();
        });

        publish(courier, "unbuildable", "a");
        publish(courier, "unbuildable", "b");

        assertThat(both.await(10, TimeUnit.SECONDS)).as("handled so far: %s", handled).isTrue();
        assertThat(handled).containsExactlyInAnyOrder("a@2", "b@2");
    }

    // ---------------------------------------------------------------- checked exceptions from user code

    @Test
    @DisplayName("an async handler that throws a checked exception (Kotlin, sneaky throws) fails its delivery instead of stalling")
    void asyncHandlerCheckedExceptionIsAFailure() throws Exception {
        Courier courier = connect();
        List<String> handled = new CopyOnWriteArrayList<>();
        CountDownLatch fine = new CountDownLatch(1);
        courier.subscribeAsync(Subscribe.to("async").group("g").maxAttempts(1), d -> {
            String text = d.payload(String.class);
            handled.add(text);
            if (text.equals("poison")) {
                throw sneakyThrow(new IOException("disk gone"));
            }
            fine.countDown();
            return CompletableFuture.completedFuture(null);
        });
        List<Message> dead = new CopyOnWriteArrayList<>();
        CountDownLatch deadLettered = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("async.g.dlq").group("ops"), d -> {
            dead.add(d.message());
            deadLettered.countDown();
        });

        publish(courier, "async", "poison");
        publish(courier, "async", "fine");

        assertThat(fine.await(10, TimeUnit.SECONDS)).as("the message after the failing one is handled; handled: %s", handled).isTrue();
        assertThat(deadLettered.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(dead.get(0).header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(IOException.class.getName());
    }

    @Test
    @DisplayName("an interceptor that throws a checked exception fails the delivery, which is redelivered")
    void interceptorCheckedExceptionIsAFailure() throws Exception {
        Interceptor flaky = chain -> {
            if (chain.delivery().attempt() == 1) {
                throw sneakyThrow(new IOException("store unreachable"));
            }
            return chain.proceed(chain.delivery());
        };
        Courier courier = connect(Courier.builder().interceptor(flaky));
        List<String> handled = new CopyOnWriteArrayList<>();
        CountDownLatch both = new CountDownLatch(2);
        courier.subscribe(Subscribe.to("intercepted").group("g").redeliveryDelay(Duration.ofMillis(20)), d -> {
            handled.add(d.payload(String.class) + "@" + d.attempt());
            both.countDown();
        });

        publish(courier, "intercepted", "a");
        publish(courier, "intercepted", "b");

        assertThat(both.await(10, TimeUnit.SECONDS)).as("handled so far: %s", handled).isTrue();
        assertThat(handled).containsExactlyInAnyOrder("a@2", "b@2");
    }

    @Test
    @DisplayName("a listener that throws a checked exception on receipt is ignored; the delivery is handled")
    void listenerCheckedExceptionIsIgnored() throws Exception {
        CourierListener throwing = new CourierListener() {
            @Override
            public void received(Delivery delivery) {
                throw sneakyThrow(new IOException("metrics backend down"));
            }
        };
        Courier courier = connect(Courier.builder().listener(throwing));
        CountDownLatch both = new CountDownLatch(2);
        courier.subscribe(Subscribe.to("observed").group("g"), d -> both.countDown());

        publish(courier, "observed", "a");
        publish(courier, "observed", "b");

        assertThat(both.await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    @DisplayName("a listener that throws an Error on receipt or settlement is ignored; the delivery is settled and its key freed")
    void receiveListenerThrowingAnErrorDoesNotStallTheDelivery() throws Exception {
        AtomicInteger received = new AtomicInteger();
        AtomicInteger settled = new AtomicInteger();
        CourierListener failingAssert = new CourierListener() {
            @Override
            public void received(Delivery delivery) {
                if (received.incrementAndGet() == 1) {
                    throw new AssertionError("listener bug");
                }
            }

            @Override
            public void settled(Delivery delivery, Outcome outcome) {
                if (settled.incrementAndGet() == 2) {
                    throw new AssertionError("listener bug");
                }
            }
        };
        Courier courier = connect(Courier.builder().listener(failingAssert));
        CountDownLatch all = new CountDownLatch(3);
        courier.subscribe(Subscribe.to("asserted").group("g"), d -> all.countDown());

        // one key: a delivery left unsettled would hold it and keep the next ones from running
        for (String text : List.of("1", "2", "3")) {
            courier.publisher().publish("asserted", "k", text).toCompletableFuture().get(5, TimeUnit.SECONDS);
        }

        assertThat(all.await(5, TimeUnit.SECONDS)).isTrue();
    }

    // ---------------------------------------------------------------- dead-letter headers

    @Test
    @DisplayName("a dead letter without a cause, of a message republished from a dead-letter topic, carries none of the old failure headers")
    void deadLetterByHandlerCarriesNoStaleFailureHeaders() throws Exception {
        Courier courier = connect();
        CompletableFuture<Message> dead = new CompletableFuture<>();
        courier.subscribe(Subscribe.to("in.g.dlq").group("audit"), d -> dead.complete(d.message()));
        courier.subscribe(Subscribe.to("in").group("g"), d -> d.deadLetter("manual"));

        courier.publisher().publish(courier.publisher().message("in", "x")
                .header(HeaderNames.DLQ_REASON, "gave up after 3 attempt(s)")
                .header(HeaderNames.DLQ_EXCEPTION, "java.lang.OldException")
                .header(HeaderNames.DLQ_EXCEPTION_MESSAGE, "old")
                .header(HeaderNames.DLQ_STACK, "java.lang.OldException: old")
                .header(HeaderNames.DLQ_FIRST_FAILURE, "2020-01-01T00:00:00Z")
                .header(HeaderNames.DLQ_LAST_FAILURE, "2020-01-01T00:00:00Z")
                .header("x-trace", "t-1").build()).toCompletableFuture().get(5, TimeUnit.SECONDS);

        Message m = dead.get(5, TimeUnit.SECONDS);
        assertThat(m.header(HeaderNames.DLQ_REASON)).isEqualTo("manual");
        assertThat(m.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).isEqualTo("in");
        assertThat(m.header(HeaderNames.DLQ_EXCEPTION)).isNull();
        assertThat(m.header(HeaderNames.DLQ_EXCEPTION_MESSAGE)).isNull();
        assertThat(m.header(HeaderNames.DLQ_STACK)).isNull();
        assertThat(m.header(HeaderNames.DLQ_FIRST_FAILURE)).isNull();
        assertThat(m.header(HeaderNames.DLQ_LAST_FAILURE)).isNull();
        assertThat(m.header("x-trace")).as("the message's own headers").isEqualTo("t-1");
    }

    @Test
    @DisplayName("courier-dlq-first-failure is the time of the first failure or absent, never that of the last")
    void firstFailureHeaderIsTheFirstFailureNotTheLast() throws Exception {
        Courier courier = connect();
        CompletableFuture<Message> dead = new CompletableFuture<>();
        courier.subscribe(Subscribe.to("ff.g.dlq").group("audit"), d -> dead.complete(d.message()));
        AtomicReference<Instant> firstFailed = new AtomicReference<>();
        courier.subscribe(Subscribe.to("ff").group("g").maxAttempts(3).redeliveryDelay(Duration.ofMillis(300)), d -> {
            firstFailed.compareAndSet(null, Instant.now());
            throw new IllegalStateException("boom");
        });

        publish(courier, "ff", "x");

        Message m = dead.get(10, TimeUnit.SECONDS);
        assertThat(m.header(HeaderNames.DLQ_LAST_FAILURE)).isNotBlank();
        String first = m.header(HeaderNames.DLQ_FIRST_FAILURE);
        // absent ("where known": the broker redelivered the message unchanged) or the first failure, 600 ms before the last
        if (first != null) {
            assertThat(Instant.parse(first)).isBefore(firstFailed.get().plusMillis(200));
        }
    }

    @Test
    @DisplayName("a dead letter after a first attempt says its first failure was that one")
    void firstAttemptDeadLetterHasItsFirstFailure() throws Exception {
        Courier courier = connect();
        CompletableFuture<Message> dead = new CompletableFuture<>();
        courier.subscribe(Subscribe.to("ff1.g.dlq").group("audit"), d -> dead.complete(d.message()));
        courier.subscribe(Subscribe.to("ff1").group("g").maxAttempts(1), d -> {
            throw new IllegalStateException("boom");
        });

        publish(courier, "ff1", "x");

        Message m = dead.get(10, TimeUnit.SECONDS);
        assertThat(m.header(HeaderNames.DLQ_FIRST_FAILURE)).isNotBlank().isEqualTo(m.header(HeaderNames.DLQ_LAST_FAILURE));
    }

    // ---------------------------------------------------------------- closing from inside a handler

    @Test
    @DisplayName("a handler that closes its own subscription returns at once and its message is acked, not redelivered")
    void closingFromOwnHandlerAcksTheHandledMessage() throws Exception {
        Courier courier = connect();
        AtomicReference<Subscription> self = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        AtomicLong closeMillis = new AtomicLong(-1);
        self.set(courier.subscribe(Subscribe.to("once").group("g").drainTimeout(DRAIN), d -> {
            started.await();
            long begin = System.nanoTime();
            self.get().close(); // take one message, then stop
            closeMillis.set(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
            closed.countDown();
        }));
        started.countDown();
        publish(courier, "once", "first");
        assertThat(closed.await(20, TimeUnit.SECONDS)).isTrue();
        long closedAt = System.nanoTime();
        assertThat(closeMillis.get()).as("ms close() took inside the handler").isLessThan(DRAIN.toMillis() / 2);
        assertThat(self.get().isClosed()).isTrue();

        assertThat(nextSubscriberReceives(courier, "once", closedAt)).containsExactly("next");
    }

    @Test
    @DisplayName("an async handler that closes its own subscription returns at once; its message is acked when its stage completes")
    void closingFromOwnAsyncHandlerAcksWhenTheStageCompletes() throws Exception {
        Courier courier = connect();
        AtomicReference<Subscription> self = new AtomicReference<>();
        CountDownLatch closed = new CountDownLatch(1);
        AtomicLong closeMillis = new AtomicLong(-1);
        CompletableFuture<Void> work = new CompletableFuture<>();
        self.set(courier.subscribeAsync(Subscribe.to("once-async").group("g").drainTimeout(DRAIN), d -> {
            long begin = System.nanoTime();
            self.get().close();
            closeMillis.set(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
            closed.countDown();
            return work;
        }));
        publish(courier, "once-async", "first");
        assertThat(closed.await(20, TimeUnit.SECONDS)).isTrue();
        long closedAt = System.nanoTime();
        assertThat(closeMillis.get()).as("ms close() took inside the handler").isLessThan(DRAIN.toMillis() / 2);
        work.complete(null);

        assertThat(nextSubscriberReceives(courier, "once-async", closedAt)).containsExactly("next");
    }

    /**
     * What a new subscriber of the group receives of {@code topic} once the drain timeout of a
     * subscription closed at {@code closedAt} (nanoTime) is over: a message the closed one had not
     * settled by then would be redelivered to it.
     */
    private static List<String> nextSubscriberReceives(Courier courier, String topic, long closedAt) throws Exception {
        List<String> received = new CopyOnWriteArrayList<>();
        CountDownLatch gotNext = new CountDownLatch(1);
        courier.subscribe(Subscribe.to(topic).group("g"), d -> {
            String text = d.payload(String.class);
            received.add(text);
            if (text.equals("next")) {
                gotNext.countDown();
            }
        });
        long waitMillis = DRAIN.toMillis() + 500 - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAt);
        if (waitMillis > 0) {
            Thread.sleep(waitMillis);
        }
        publish(courier, topic, "next");
        assertThat(gotNext.await(10, TimeUnit.SECONDS)).isTrue();
        return received;
    }

    @Test
    @DisplayName("close() from another thread still waits for a running handler, and that handler's ack counts")
    void closingFromOutsideWaitsForTheRunningHandler() throws Exception {
        Courier courier = connect();
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Subscription sub = courier.subscribe(Subscribe.to("drain").group("g").drainTimeout(DRAIN), d -> {
            running.countDown();
            release.await();
        });
        publish(courier, "drain", "first");
        assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();

        CountDownLatch closeReturned = new CountDownLatch(1);
        Thread closer = new Thread(() -> {
            sub.close();
            closeReturned.countDown();
        });
        closer.start();
        assertThat(closeReturned.await(300, TimeUnit.MILLISECONDS)).as("close() returned while the handler still ran").isFalse();
        release.countDown();
        assertThat(closeReturned.await(5, TimeUnit.SECONDS)).isTrue();

        // close() returned after the drain, so what the handler acked is settled already
        assertThat(nextSubscriberReceives(courier, "drain", System.nanoTime() - DRAIN.toNanos() * 2)).containsExactly("next");
    }

    // ---------------------------------------------------------------- cyclic causes and listeners on publish

    @Test
    @DisplayName("a handler failure whose cause chain is a cycle (A -> B -> A) is decided on and dead-lettered, not looped over forever")
    void cyclicCauseChainFromHandlerIsDeadLettered() throws Exception {
        Courier courier = connect();
        CountDownLatch dead = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("cyc.g.dlq").group("ops"), d -> dead.countDown());
        courier.subscribe(Subscribe.to("cyc").group("g").maxAttempts(1), d -> {
            IllegalStateException a = new IllegalStateException("a");
            IllegalArgumentException b = new IllegalArgumentException("b");
            a.initCause(b);
            b.initCause(a);
            throw a;
        });
        courier.publisher().publish("cyc", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(dead.await(10, TimeUnit.SECONDS)).as("dead-lettered after its only attempt").isTrue();
    }

    @Test
    @DisplayName("a publish listener that throws a checked exception does not keep publish or publishAll from completing")
    void publishCompletesWhenListenerThrowsChecked() throws Exception {
        CourierListener throwing = new CourierListener() {
            @Override
            public void published(Message message, PublishReceipt receipt) {
                throw sneakyThrow(new IOException("metrics backend down"));
            }
        };
        Courier courier = connect(Courier.builder().listener(throwing));
        Message a = Message.builder("pa").payload(new byte[] {1}).build();
        assertThat(courier.publisher().publishAll(List.of(a)).toCompletableFuture().get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(courier.publisher().publish("pa", "b").toCompletableFuture().get(10, TimeUnit.SECONDS).messageId()).isNotNull();
    }

    @Test
    @DisplayName("a publish listener that throws an Error does not keep the publish from completing or leave it outstanding")
    void publishListenerThrowingAnErrorDoesNotLeaveThePublishHanging() throws Exception {
        CourierListener failingAssert = new CourierListener() {
            @Override
            public void published(Message message, PublishReceipt receipt) {
                throw new AssertionError("listener bug");
            }
        };
        Courier courier = connect(Courier.builder().listener(failingAssert));

        courier.publisher().publish("pe", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);

        assertThat(courier.publisher().outstanding()).isZero();
    }

    @Test
    @DisplayName("close(null) or a negative drain timeout is refused before anything closes")
    void closeWithoutDrainTimeoutIsRefusedFirst() {
        Courier courier = connect();
        Subscription sub = courier.subscribe(Subscribe.to("close-args").group("g"), d -> { });
        assertThatThrownBy(() -> sub.close(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("drainTimeout");
        assertThatThrownBy(() -> sub.close(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThat(sub.isClosed()).isFalse();
        sub.close(DRAIN);
        assertThat(sub.isClosed()).isTrue();
    }

    @Test
    @DisplayName("an interceptor's close action gives back the delivery it holds as the close starts; a cancelled one never runs")
    void closeActionGivesBackAHeldDeliveryAtOnce() throws Exception {
        AtomicReference<Interceptor.Flow> flow = new AtomicReference<>();
        CompletableFuture<Boolean> closedWhenGivenBack = new CompletableFuture<>();
        AtomicInteger cancelledRuns = new AtomicInteger();
        CountDownLatch held = new CountDownLatch(1);
        Courier courier = connect(Courier.builder().interceptor(chain -> {
            // holds every delivery until its subscription closes, as a breaker that never half-opens would
            CompletableFuture<Outcome> out = new CompletableFuture<>();
            flow.set(chain.flow());
            chain.flow().onClose(cancelledRuns::incrementAndGet).run();
            chain.flow().onClose(() -> {
                closedWhenGivenBack.complete(chain.flow().isClosed());
                out.complete(Outcome.nack(null));
            });
            held.countDown();
            return out;
        }));
        AtomicInteger handled = new AtomicInteger();
        Subscription sub = courier.subscribe(Subscribe.to("held-at-close").group("g").drainTimeout(Duration.ofSeconds(30)),
                d -> handled.incrementAndGet());
        publish(courier, "held-at-close", "x");
        assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();

        long start = System.nanoTime();
        sub.close(Duration.ofSeconds(30));

        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close() with only a held delivery (drain timeout 30 s)")
                .isLessThan(Duration.ofSeconds(10));
        assertThat(closedWhenGivenBack.getNow(null)).as("given back once the subscription was closing").isTrue();
        assertThat(cancelledRuns.get()).as("runs of a cancelled close action").isZero();
        assertThat(handled.get()).isZero();
        AtomicInteger late = new AtomicInteger();
        flow.get().onClose(late::incrementAndGet);
        assertThat(late.get()).as("an action registered after the close started runs at once").isEqualTo(1);
    }
}
