package dev.courier.nats;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.NonRetryableException;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.RequestTimeoutException;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.testkit.Await;
import io.nats.client.Connection;
import io.nats.client.Nats;
import io.nats.client.api.ConsumerInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the NATS binding promises beyond the contract suite, on the JetStream server on loopback. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class NatsJetStreamTest {

    private static final String RUN = "nt_" + UUID.randomUUID().toString().substring(0, 8);
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

    private Courier connect(Map<String, String> extra) {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(BROKER.config()).setAll(extra).url(BROKER.url()).build();
        Courier c = Courier.connect(config);
        open.add(c);
        return c;
    }

    private Courier connect() {
        return connect(Map.of());
    }

    private static String topic(String name) {
        return RUN + "." + name + "." + UUID.randomUUID().toString().substring(0, 6);
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    @DisplayName("a second publish with the same message id is dropped by JetStream and reported as a duplicate")
    void deduplicatesByMessageId() throws Exception {
        Courier courier = connect();
        String topic = topic("dedup");
        List<Message> received = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("g"), d -> received.add(d.message()));
        Message m = courier.publisher().message(topic, "once").id("order-17").build();
        PublishReceipt first = courier.publisher().publish(m).toCompletableFuture().get(10, TimeUnit.SECONDS);
        PublishReceipt second = courier.publisher().publish(m).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(first.duplicate()).isFalse();
        assertThat(second.duplicate()).as("second receipt flags the duplicate").isTrue();
        assertThat(second.position().sequence()).isEqualTo(first.position().sequence());
        await("the message is received", () -> received.size() >= 1);
        Thread.sleep(300);
        assertThat(received).extracting(Message::id).containsExactly("order-17");
    }

    @Test
    @DisplayName("nack(delay) is held by the server: the redelivery comes no earlier than the delay, with attempt 2")
    void nakWithDelayIsHonoured() throws Exception {
        Courier courier = connect();
        String topic = topic("nak");
        Duration delay = Duration.ofMillis(1500);
        List<long[]> deliveries = new CopyOnWriteArrayList<>();
        courier.subscribeAsync(Subscribe.to(topic).group("g"), d -> {
            deliveries.add(new long[] {System.nanoTime(), d.attempt()});
            if (d.attempt() == 1) {
                d.nack(delay);
            } else {
                d.ack();
            }
            return null;
        });
        courier.publisher().publish(topic, "later").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await("the message is redelivered", () -> deliveries.size() >= 2);
        assertThat(deliveries.get(0)[1]).isEqualTo(1);
        assertThat(deliveries.get(1)[1]).isEqualTo(2);
        long gapMillis = TimeUnit.NANOSECONDS.toMillis(deliveries.get(1)[0] - deliveries.get(0)[0]);
        assertThat(gapMillis).as("milliseconds between the first delivery and the redelivery").isGreaterThanOrEqualTo(delay.toMillis());
    }

    @Test
    @DisplayName("after maxAttempts deliveries (the server's delivered count) the message is dead-lettered and terminated")
    void exhaustedDeliveriesAreDeadLetteredAndTerminated() throws Exception {
        Courier courier = connect();
        String topic = topic("poison");
        Subscribe spec = Subscribe.to(topic).group("g").maxAttempts(3).redeliveryDelay(Duration.ofMillis(50));
        List<Message> dead = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group("reader"), d -> dead.add(d.message()));
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        List<String> natsSubjects = new CopyOnWriteArrayList<>();
        courier.subscribe(spec, d -> {
            attempts.add(d.attempt());
            natsSubjects.add(d.unwrap(io.nats.client.Message.class).getSubject());
            assertThat(d.metadata().sequence()).isPresent();
            throw new IllegalStateException("poison");
        });
        courier.publisher().publish(topic, "bad").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await("the dead letter arrives", () -> dead.size() >= 1);
        assertThat(attempts).containsExactly(1, 2, 3);
        assertThat(natsSubjects).containsOnly(topic);
        assertThat(dead.get(0).header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("3");
        assertThat(dead.get(0).header(HeaderNames.DLQ_POSITION)).isEqualTo("sequence=1");
        try (Connection c = Nats.connect(BROKER.url())) {
            String stream = "COURIER_" + topic.replace('.', '_');
            await("the original is terminated", () -> {
                try {
                    ConsumerInfo info = c.jetStreamManagement().getConsumerInfo(stream, "g");
                    return info.getNumAckPending() == 0 && info.getNumPending() == 0;
                } catch (Exception e) {
                    return false;
                }
            });
        }
        Thread.sleep(300);
        assertThat(attempts).as("no delivery after the dead letter").hasSize(3);
    }

    private static void failDeep(int depth) {
        if (depth == 0) {
            // non-ASCII, so the message, the reason and the stack travel base64-encoded: the largest failure headers
            throw new NonRetryableException("order rejected (zoë): " + "x".repeat(1500));
        }
        failDeep(depth - 1);
    }

    @Test
    @DisplayName("a message of the declared maximum payload whose handler fails is dead-lettered, its failure details shortened to fit, not redelivered forever")
    void deadLetterOfAMaxSizeMessageFits() throws Exception {
        Courier courier = connect();
        String topic = topic("bigdlq");
        String dlq = topic("bigdlq_dead");
        int max = (int) courier.capabilities().maxPayloadBytes();
        List<Message> dead = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        courier.subscribe(Subscribe.to(dlq).group("r"), d -> dead.add(d.message()));
        courier.subscribe(Subscribe.to(topic).group("g").deadLetterTopic(dlq), d -> {
            attempts.incrementAndGet();
            failDeep(100); // a realistic stack (> 4 KiB) and a long exception message
        });
        courier.publisher().publish(topic, new byte[max]).toCompletableFuture().get(10, TimeUnit.SECONDS);
        await("the dead letter arrives (handler ran " + attempts.get() + " times so far)", () -> !dead.isEmpty());
        Thread.sleep(300);
        assertThat(dead).hasSize(1);
        Message m = dead.get(0);
        assertThat(m.payload()).hasSize(max);
        assertThat(attempts.get()).as("handler runs").isEqualTo(1);
        assertThat(m.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(NonRetryableException.class.getName());
        assertThat(m.header(HeaderNames.DLQ_REASON)).as("the reason, shortened last").startsWith("non-retryable failure");
        assertThat(m.header(HeaderNames.DLQ_STACK)).as("the stack, shortened first").endsWith("...");
    }

    @Test
    @DisplayName("a subscription can replay from a stream sequence or a time")
    void replaysFromSequenceAndTime() throws Exception {
        Courier courier = connect();
        String topic = topic("replay");
        List<PublishReceipt> receipts = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            receipts.add(courier.publisher().publish(topic, "r-" + i).toCompletableFuture().get(10, TimeUnit.SECONDS));
        }
        long fifth = receipts.get(4).position().sequence().orElseThrow();
        List<String> fromSequence = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).startFrom(StartPosition.sequence(fifth)), d -> fromSequence.add(d.payload(String.class)));
        await("six messages are replayed", () -> fromSequence.size() >= 6);
        Thread.sleep(200);
        assertThat(fromSequence).containsExactly("r-4", "r-5", "r-6", "r-7", "r-8", "r-9");

        List<String> fromTime = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("history").startFrom(StartPosition.at(java.time.Instant.now().minusSeconds(60))),
                d -> fromTime.add(d.payload(String.class)));
        await("all ten messages are replayed by time", () -> fromTime.size() >= 10);
    }

    @Test
    @DisplayName("a request to a topic without a responder fails at once with NoResponderException")
    void noRespondersFailFast() {
        Courier courier = connect();
        String topic = topic("nobody");
        long start = System.nanoTime();
        CompletableFuture<String> reply = courier.requester().request(topic, "ping", String.class, Duration.ofSeconds(20)).toCompletableFuture();
        assertThatThrownBy(() -> reply.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(NoResponderException.class);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).as("milliseconds until the failure").isLessThan(10_000);
    }

    @Test
    @DisplayName("a request over the server's max_payload fails as a non-retriable PublishException, not as BrokerUnavailableException")
    void oversizedRequestIsNotRetriable() {
        Courier courier = connect();
        String topic = topic("bigreq");
        courier.respond(Subscribe.to(topic), d -> "ok");
        CompletableFuture<String> reply = courier.requester().request(topic, new byte[2 * 1024 * 1024], String.class, Duration.ofSeconds(5))
                .toCompletableFuture();
        assertThatThrownBy(() -> reply.get(20, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("payload size exceed")
                .satisfies(e -> assertThat(((PublishException) e).isRetriable()).as("retriable").isFalse());
    }

    @Test
    @DisplayName("code chained onto a timed-out request that blocks does not hold up another request's timeout (nor jnats' cleanup, made rare here, end it)")
    void blockingCallbackOnATimeoutHoldsUpNoOtherTimeout() throws Exception {
        // jnats ends requests past their timeout itself every cleanup interval (5 s by default); a minute leaves it to Courier's timer
        Courier courier = connect(Map.of(NatsSettings.NATIVE_PREFIX + "io.nats.client.cleanupinterval", "60000"));
        String topic = topic("stuck");
        CountDownLatch release = new CountDownLatch(1);
        try {
            courier.respond(Subscribe.to(topic).group("responders"), d -> {
                release.await();
                return "too late";
            });
            CountDownLatch blocking = new CountDownLatch(1);
            courier.requester().request(topic, "a", String.class, Duration.ofMillis(300))
                    .whenComplete(Await.blockingCallback(blocking, release));
            assertThat(blocking.await(30, TimeUnit.SECONDS)).as("the first request ended").isTrue();
            CompletableFuture<String> second = courier.requester().request(topic, "b", String.class, Duration.ofMillis(300))
                    .toCompletableFuture();
            assertThatThrownBy(() -> second.get(30, TimeUnit.SECONDS)).as("the second request, while code chained onto the first one blocks")
                    .isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(RequestTimeoutException.class);
        } finally {
            release.countDown();
        }
    }

    @Test
    @DisplayName("a responder on a JetStream topic answers requests, which travel on core NATS and never land in the stream")
    void requestsBypassTheStream() throws Exception {
        Courier courier = connect();
        String topic = topic("rpc");
        List<String> published = new CopyOnWriteArrayList<>();
        courier.respond(Subscribe.to(topic).group("responders"), d -> "pong:" + d.payload(String.class));
        courier.subscribe(Subscribe.to(topic).group("audit").startFrom(StartPosition.earliest()), d -> published.add(d.payload(String.class)));
        String answer = courier.requester().request(topic, "ping", String.class, Duration.ofSeconds(10)).toCompletableFuture().get(15, TimeUnit.SECONDS);
        assertThat(answer).isEqualTo("pong:ping");
        courier.publisher().publish(topic, "event").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await("the published event reaches the audit group", () -> published.contains("event"));
        try (Connection c = Nats.connect(BROKER.url())) {
            long stored = c.jetStreamManagement().getStreamInfo("COURIER_" + topic.replace('.', '_')).getStreamState().getMsgCount();
            assertThat(stored).as("messages stored in the topic's stream (the request is not one)").isEqualTo(1);
        }
    }

    @Test
    @DisplayName("with keys as subject tokens, a subject filter selects keys by wildcard")
    void keySubjectsAndFilters() throws Exception {
        String topic = topic("orders");
        Courier courier = connect(Map.of(NatsSettings.KEY_SUBJECT_TOPICS, topic));
        List<String> eu = new CopyOnWriteArrayList<>();
        List<String> all = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("eu").deadLetterTopic("dlq." + topic)
                .with(NatsSubscribeOptions.subjectFilter(topic + ".*.eu")), d -> eu.add(d.message().key()));
        courier.subscribe(Subscribe.to(topic).group("all").deadLetterTopic("dlq." + topic), d -> all.add(d.message().key()));
        for (String key : List.of("o-1.eu", "o-2.us", "o-3.eu")) {
            courier.publisher().publish(topic, key, "x").toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        await("every message reaches the unfiltered group", () -> all.size() >= 3);
        await("the eu messages reach the filtered group", () -> eu.size() >= 2);
        Thread.sleep(200);
        assertThat(eu).containsExactly("o-1.eu", "o-3.eu");
        assertThatThrownBy(() -> courier.subscribe(Subscribe.to(topic).group("x"), d -> { }))
                .hasMessageContaining("deadLetterTopic");
    }

    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.DisplayName("requests reach responders only: a plain subscriber of the topic never sees them, and without a responder the request fails fast")
    void plainSubscribersNeverSeeRequests() throws Exception {
        Courier c = connect();
        String t = topic("rr");
        List<String> plain = new CopyOnWriteArrayList<>();
        c.subscribe(dev.courier.Subscribe.to(t).group("plain"), d -> plain.add(d.payload(String.class)));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.requester()
                        .request(t, "ping", String.class, java.time.Duration.ofSeconds(5)).toCompletableFuture().join())
                .hasCauseInstanceOf(dev.courier.NoResponderException.class);
        c.respond(dev.courier.Subscribe.to(t).group("svc"), d -> "pong:" + d.payload(String.class));
        assertThat(c.requester()
                .request(t, "ping", String.class, java.time.Duration.ofSeconds(10)).toCompletableFuture().get()).isEqualTo("pong:ping");
        c.publisher().publish(t, "event").toCompletableFuture().get(10, TimeUnit.SECONDS);
        await("the plain subscriber gets the published event", () -> plain.contains("event"));
        assertThat(plain).containsExactly("event");
    }

    @Test
    @DisplayName("nak with a delay comes back with the attempt count one higher, after the delay")
    void nakWithDelayCarriesTheAttemptCount() throws InterruptedException {
        Courier c = connect();
        String topic = topic("delayed");
        Duration delay = Duration.ofSeconds(1);
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        List<Long> times = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g").maxAttempts(10), d -> {
            attempts.add(d.attempt());
            times.add(System.nanoTime());
            if (d.attempt() < 3) {
                d.nack(delay);
            }
        });
        c.publisher().publish(topic, "again").toCompletableFuture().join();
        await("three deliveries", () -> attempts.size() >= 3);
        assertThat(attempts).containsExactly(1, 2, 3);
        assertThat(times.get(1) - times.get(0)).as("held for the delay").isGreaterThanOrEqualTo(delay.toNanos());
        assertThat(times.get(2) - times.get(1)).as("held for the delay").isGreaterThanOrEqualTo(delay.toNanos());
    }

    @Test
    @DisplayName("a nak made just before the Courier closes reaches the server: the group gets the message again well before the ack wait")
    void nakBeforeCloseReachesTheServer() throws Exception {
        // a long ack wait: without the nak reaching the server the message would only come back after it
        Map<String, String> longAckWait = Map.of(NatsSettings.ACK_WAIT, "30s");
        Courier first = connect(longAckWait);
        String topic = topic("giveback");
        CompletableFuture<dev.courier.Delivery> held = new CompletableFuture<>();
        first.subscribeAsync(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ZERO), d -> {
            held.complete(d);
            return null; // settled below, explicitly
        });
        first.publisher().publish(topic, "give-me-back").toCompletableFuture().get(10, TimeUnit.SECONDS);
        held.get(30, TimeUnit.SECONDS).nack(Duration.ZERO);
        first.close();

        Courier second = connect(longAckWait);
        CompletableFuture<String> again = new CompletableFuture<>();
        second.subscribe(Subscribe.to(topic).group("g"), d -> again.complete(d.payload(String.class)));
        // well under the 30 s ack wait: only the nak can have brought it back this soon
        assertThat(again.get(10, TimeUnit.SECONDS)).isEqualTo("give-me-back");
    }

    @Test
    @DisplayName("what a closing group member gives back comes to the group's next member in publish order, for keys and without")
    void givenBackInPublishOrder() throws Exception {
        for (int round = 0; round < 3; round++) {
            String topic = topic("order");
            int n = 300;
            Courier publisher = connect();
            List<CompletableFuture<PublishReceipt>> sent = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // two keys and keyless ones: a close finds them queued behind their keys, waiting, and still on the wire
                String key = i % 3 == 2 ? null : "k" + (i % 3);
                sent.add(publisher.publisher().publish(publisher.publisher().message(topic, i).key(key).build()).toCompletableFuture());
            }
            CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);

            Courier first = connect();
            List<Integer> firstGot = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> started = new CompletableFuture<>();
            CountDownLatch release = new CountDownLatch(1);
            first.subscribe(Subscribe.to(topic).group("g").concurrency(2).maxInFlight(64), d -> {
                firstGot.add(d.payload(Integer.class));
                started.complete(null);
                release.await(30, TimeUnit.SECONDS);
            });
            started.get(30, TimeUnit.SECONDS);
            CompletableFuture<Void> closing = CompletableFuture.runAsync(first::close);
            Thread.sleep(50);
            release.countDown();
            closing.get(60, TimeUnit.SECONDS);

            Courier second = connect();
            List<Integer> secondGot = new CopyOnWriteArrayList<>();
            second.subscribe(Subscribe.to(topic).group("g").concurrency(1), d -> secondGot.add(d.payload(Integer.class)));
            Set<Integer> all = new TreeSet<>();
            await("every message is received", () -> {
                all.addAll(firstGot);
                all.addAll(secondGot);
                return all.size() == n;
            });
            for (String key : new String[] {"k0", "k1", null}) {
                int residue = key == null ? 2 : Integer.parseInt(key.substring(1));
                List<Integer> ofKey = secondGot.stream().filter(i -> i % 3 == residue).toList();
                assertThat(ofKey).as("round %d, key %s: received by the next member in publish order", round, key)
                        .isSorted();
            }
            assertThat(secondGot).as("round %d: the rest, each once", round).doesNotHaveDuplicates().doesNotContainAnyElementsOf(firstGot);
        }
    }
}
