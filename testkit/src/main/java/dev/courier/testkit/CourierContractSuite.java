package dev.courier.testkit;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.ClosedException;
import dev.courier.ContentTypes;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.HeaderNames;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.NonRetryableException;
import dev.courier.Ordering;
import dev.courier.Outcome;
import dev.courier.PublishReceipt;
import dev.courier.Publisher;
import dev.courier.RequestFailedException;
import dev.courier.RequestTimeoutException;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.reliability.CircuitBreakerPolicy;
import dev.courier.reliability.Idempotency;
import dev.courier.reliability.Reliability;
import dev.courier.reliability.RetryPolicy;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import dev.courier.spi.BindingProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The contract every Courier binding passes. A binding's test extends this class and supplies the
 * broker:
 *
 * <pre>{@code
 * class RabbitMqContractTest extends CourierContractSuite {
 *     static final BrokerFixture BROKER = BrokerLocator.rabbitmq().locateShared();
 *
 *     @Override
 *     protected BrokerFixture fixture() {
 *         return BROKER;
 *     }
 * }
 * }</pre>
 *
 * <p>The cases are grouped in {@code @Nested} classes whose display names read as the
 * specification. A case that needs a guarantee not every broker gives is marked with
 * {@link RequiresCapability} and is reported as disabled on bindings that do not declare it. Every
 * case connects on its own, uses topics and groups no other case uses (so cases may run in
 * parallel), waits with bounded polling instead of sleeps, and closes what it opened.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
public abstract class CourierContractSuite {

    /** Short redelivery delay so redelivery cases stay quick. */
    protected static final Duration REDELIVERY_DELAY = Duration.ofMillis(50);
    /** How long "nothing more arrives" checks watch; a window is unavoidable for a negative. */
    protected static final Duration QUIET_WINDOW = Duration.ofMillis(300);

    private static final Map<String, Capabilities> CAPABILITIES = new ConcurrentHashMap<>();

    private final Deque<AutoCloseable> resources = new ConcurrentLinkedDeque<>();
    private BrokerFixture fixture;
    private String caseId;
    private Await await = Await.await();

    /** The broker under test. Called once per case; return a shared instance (e.g. a static field). */
    protected abstract BrokerFixture fixture();

    final BrokerFixture broker() {
        if (fixture == null) {
            fixture = fixture();
            if (fixture == null) {
                throw new IllegalStateException(getClass().getName() + ".fixture() returned null");
            }
        }
        return fixture;
    }

    /** What the binding under test declares, read from a real connection once per broker. */
    protected final Capabilities capabilities() {
        BrokerFixture f = broker();
        return CAPABILITIES.computeIfAbsent(f.name() + " " + f.url() + " " + f.config(), k -> {
            try (Courier c = Courier.connect(f.courierConfig())) {
                return c.capabilities();
            }
        });
    }

    @BeforeEach
    final void openCase(TestInfo info) {
        String name = info.getTestMethod().map(m -> m.getName()).orElse("case");
        caseId = "ct." + name + "." + UUID.randomUUID().toString().substring(0, 8);
        await = Await.atMost(broker().awaitTimeout());
        broker().beforeCase(caseId);
    }

    @AfterEach
    final void closeCase() {
        List<Throwable> errors = new ArrayList<>();
        AutoCloseable r;
        while ((r = resources.pollFirst()) != null) {
            try {
                r.close();
            } catch (Exception | Error e) {
                errors.add(e);
            }
        }
        broker().afterCase(caseId);
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("closing the case's resources failed: " + errors.get(0), errors.get(0));
            errors.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
    }

    // ---------------------------------------------------------------- helpers for the cases

    /** The unique id of the running case; every topic and group name of the case starts with it. */
    protected final String caseId() {
        return caseId;
    }

    /** A topic name no other case uses. */
    protected final String topic(String name) {
        return caseId + "." + name;
    }

    /** A group name no other case uses. */
    protected final String group(String name) {
        return caseId.replace('.', '-') + "-" + name;
    }

    protected final Await await() {
        return await;
    }

    /** A new connection to the broker, closed after the case. */
    protected final Courier connect() {
        return connect(CourierListener.NONE);
    }

    /** A new connection observed by {@code listener}, closed after the case. */
    protected final Courier connect(CourierListener listener) {
        return connect(listener, new Interceptor[0]);
    }

    /** A new connection observed by {@code listener} with {@code interceptors} (outermost first), closed after the case. */
    protected final Courier connect(CourierListener listener, Interceptor... interceptors) {
        Courier.Builder b = Courier.builder().config(broker().courierConfig()).listener(listener);
        for (Interceptor i : interceptors) {
            b.interceptor(i);
        }
        Courier c = b.connect();
        closeAfterCase(c);
        return c;
    }

    /** Registers {@code resource} to be closed after the case, before the ones registered earlier. */
    protected final <T extends AutoCloseable> T closeAfterCase(T resource) {
        resources.addFirst(resource);
        return resource;
    }

    /** A pool of {@code threads} threads, stopped after the case. */
    protected final ExecutorService threads(int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, caseId + "-worker");
            t.setDaemon(true);
            return t;
        });
        closeAfterCase(pool::shutdownNow);
        return pool;
    }

    /** A group subscription with the short redelivery delay of the suite. */
    protected final Subscribe inGroup(String topic, String group) {
        return Subscribe.to(topic).group(group).redeliveryDelay(REDELIVERY_DELAY);
    }

    /** Waits for {@code stage} and returns its value, failing with {@code what} if it failed or took too long. */
    protected final <T> T join(CompletionStage<T> stage, String what) {
        try {
            return stage.toCompletableFuture().get(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new AssertionError(what + " did not complete within " + Await.describe(await.timeout()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted waiting for " + what, e);
        }
    }

    /** Waits for {@code stage} to fail and returns the cause, failing if it succeeded. */
    protected final Throwable failureOf(CompletionStage<?> stage, String what) {
        try {
            Object value = stage.toCompletableFuture().get(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError(what + " was expected to fail but completed with " + value);
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
                t = t.getCause();
            }
            return t;
        } catch (TimeoutException e) {
            throw new AssertionError(what + " was expected to fail but did not complete within " + Await.describe(await.timeout()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted waiting for " + what, e);
        }
    }

    /** Publishes {@code count} text messages {@code <prefix>-<i>} with header {@code x-seq}, waits for all confirms, returns their ids. */
    protected final List<String> publishTexts(Publisher publisher, String topic, String prefix, int count) {
        List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>(count);
        List<String> ids = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Message m = publisher.message(topic, prefix + "-" + i).header("x-seq", Integer.toString(i)).build();
            ids.add(m.id());
            stages.add(publisher.publish(m).toCompletableFuture());
        }
        join(CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)), "publishing " + count + " messages to " + topic);
        return ids;
    }

    private static String text(Message m) {
        return new String(m.payload(), StandardCharsets.UTF_8);
    }

    private static String base(String contentType) {
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    /** Records what the chain decided for each message id, from a {@link CourierListener}. */
    static class Settlements implements CourierListener {
        final Map<String, List<Outcome.Kind>> byId = new ConcurrentHashMap<>();

        @Override
        public void settled(Delivery delivery, Outcome outcome) {
            byId.computeIfAbsent(delivery.message().id(), k -> new CopyOnWriteArrayList<>()).add(outcome.kind());
        }

        long acked() {
            return byId.values().stream().filter(l -> l.contains(Outcome.Kind.ACK)).count();
        }

        List<Outcome.Kind> of(String id) {
            return byId.getOrDefault(id, List.of());
        }

        @Override
        public String toString() {
            return acked() + " acked of " + byId.size() + " settled";
        }
    }

    /** Waits for {@code latch} however often the thread is interrupted, like a thread stuck in a call that ignores interrupts. */
    static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** JSON payload of the cases. */
    record Order(String id, double amount, List<String> tags) {
    }

    record Query(int n) {
    }

    record Answer(int n, String by) {
    }

    // ---------------------------------------------------------------- the contract

    @Nested
    @DisplayName("Publish and subscribe")
    class PublishAndSubscribe {

        @Test
        @DisplayName("a subscriber receives the id, key, headers, content type, timestamp and typed JSON payload unchanged")
        void deliversTheEnvelopeUnchanged() {
            Courier courier = connect();
            String topic = topic("orders");
            Received received = new Received();
            AtomicReference<Object> decoded = new AtomicReference<>();
            courier.subscribe(inGroup(topic, group("g")), d -> {
                decoded.set(d.payload(Order.class));
                received.record(d);
            });
            Order order = new Order("o-1", 42.5, List.of("express", "gift"));
            Message sent = courier.publisher().message(topic, order)
                    .id("id-" + UUID.randomUUID())
                    .key("customer-7")
                    .header("x-trace", "trace-1")
                    .header("x-text", "zoë ✓ 漢字")
                    .build();

            PublishReceipt receipt = join(courier.publisher().publish(sent), "publish");
            assertThat(receipt.messageId()).as("receipt message id").isEqualTo(sent.id());
            assertThat(receipt.topic()).as("receipt topic").isEqualTo(topic);

            await.until("the message is received", () -> received.count() >= 1, received::summary);
            Received.Entry got = received.entries().get(0);
            Message m = got.message();
            assertThat(m.id()).as("id").isEqualTo(sent.id());
            assertThat(m.topic()).as("topic").isEqualTo(topic);
            assertThat(m.key()).as("key").isEqualTo("customer-7");
            assertThat(m.headers().asMap()).as("headers").containsEntry("x-trace", "trace-1").containsEntry("x-text", "zoë ✓ 漢字");
            assertThat(base(m.contentType())).as("content type").isEqualTo(ContentTypes.JSON);
            assertThat(m.payload()).as("payload bytes").isEqualTo(sent.payload());
            assertThat(m.timestamp().toEpochMilli()).as("timestamp, to the millisecond").isEqualTo(sent.timestamp().toEpochMilli());
            assertThat(decoded.get()).as("typed payload").isEqualTo(order);
            assertThat(got.attempt()).as("attempt of a first delivery").isEqualTo(1);
            assertThat(got.group()).as("delivery group").isEqualTo(group("g"));
        }

        @Test
        @DisplayName("String and byte[] payloads round-trip with their content types")
        void textAndBytesRoundTrip() {
            Courier courier = connect();
            String topic = topic("raw");
            List<Object> payloads = new CopyOnWriteArrayList<>();
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")), d -> {
                boolean text = base(d.message().contentType()).startsWith("text/");
                payloads.add(text ? d.payload(String.class) : d.payload(byte[].class));
                received.record(d);
            });
            String text = "héllo wörld ✓ \u0000 end";
            byte[] bytes = new byte[256];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) i;
            }
            join(courier.publisher().publish(topic, text), "publish text");
            join(courier.publisher().publish(topic, bytes), "publish bytes");

            await.until("both messages are received", () -> received.count() >= 2, received::summary);
            Map<String, Object> byType = new ConcurrentHashMap<>();
            for (int i = 0; i < 2; i++) {
                Message m = received.entries().get(i).message();
                byType.put(base(m.contentType()), payloads.get(i));
            }
            assertThat(byType).as("payload by content type").containsOnlyKeys("text/plain", ContentTypes.OCTET_STREAM);
            assertThat(byType.get("text/plain")).isEqualTo(text);
            assertThat((byte[]) byType.get(ContentTypes.OCTET_STREAM)).isEqualTo(bytes);
        }

        @Test
        @DisplayName("publishAll confirms every message, receipts in order, and all are delivered")
        void publishAllDeliversEverything() {
            Courier courier = connect();
            String topic = topic("batch");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")), received);
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                batch.add(courier.publisher().message(topic, "b-" + i).build());
            }
            List<PublishReceipt> receipts = join(courier.publisher().publishAll(batch), "publishAll");
            assertThat(receipts).extracting(PublishReceipt::messageId)
                    .containsExactlyElementsOf(batch.stream().map(Message::id).toList());
            await.until("20 messages are received", () -> received.distinct() >= 20, received::summary);
            assertThat(received.ids()).containsExactlyInAnyOrderElementsOf(batch.stream().map(Message::id).toList());
        }

        @Test
        @DisplayName("10,000 messages from 8 concurrent publishers arrive without loss or duplicates")
        void manyConcurrentPublishers() throws Exception {
            int publishers = 8;
            int perPublisher = 1250;
            int total = publishers * perPublisher;
            Courier courier = connect();
            String topic = topic("load");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")).concurrency(8).ordering(Ordering.NONE).maxInFlight(512), received);

            ExecutorService pool = threads(publishers);
            List<Future<List<CompletableFuture<PublishReceipt>>>> work = new ArrayList<>();
            for (int t = 0; t < publishers; t++) {
                int thread = t;
                work.add(pool.submit(() -> {
                    List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>(perPublisher);
                    for (int i = 0; i < perPublisher; i++) {
                        stages.add(courier.publisher().publish(topic, "p" + thread + "-" + i).toCompletableFuture());
                    }
                    return stages;
                }));
            }
            Set<String> published = new HashSet<>();
            for (Future<List<CompletableFuture<PublishReceipt>>> f : work) {
                for (CompletableFuture<PublishReceipt> s : f.get(await.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    published.add(join(s, "publish").messageId());
                }
            }
            assertThat(published).as("distinct confirmed message ids").hasSize(total);

            await.until(total + " distinct messages are received", () -> received.distinct() >= total, received::summary);
            assertThat(received.duplicates()).as("messages delivered twice within the group").isEmpty();
            assertThat(received.count()).as("deliveries").isEqualTo(total);
            assertThat(received.ids()).as("received ids").isEqualTo(published);
        }

        @Test
        @DisplayName("20 topics at once: each subscriber gets exactly its own topic's messages")
        void manyTopicsWithoutCrossTalk() {
            int topics = 20;
            int perTopic = 25;
            Courier courier = connect();
            List<String> names = new ArrayList<>();
            List<Received> receivers = new ArrayList<>();
            for (int t = 0; t < topics; t++) {
                String topic = topic("t" + t);
                Received r = new Received();
                courier.subscribe(inGroup(topic, group("g")), r);
                names.add(topic);
                receivers.add(r);
            }
            List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>();
            for (int i = 0; i < perTopic; i++) {
                for (int t = 0; t < topics; t++) {
                    stages.add(courier.publisher().publish(names.get(t), "t" + t + "-" + i).toCompletableFuture());
                }
            }
            join(CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)), "publishing to " + topics + " topics");

            await.until("every topic's subscriber has " + perTopic + " messages",
                    () -> receivers.stream().allMatch(r -> r.distinct() >= perTopic),
                    () -> receivers.stream().map(Received::count).toList());
            for (int t = 0; t < topics; t++) {
                Received r = receivers.get(t);
                String prefix = "t" + t + "-";
                assertThat(r.count()).as("deliveries on " + names.get(t)).isEqualTo(perTopic);
                for (Message m : r.messages()) {
                    assertThat(m.topic()).as("topic of a message received on " + names.get(t)).isEqualTo(names.get(t));
                    assertThat(text(m)).as("payload received on " + names.get(t)).startsWith(prefix);
                }
            }
        }

        @Test
        @DisplayName("a 1 MiB payload (or the binding's maximum, if smaller) round-trips intact")
        void largePayload() {
            int size = (int) Math.min(1024 * 1024, capabilities().maxPayloadBytes());
            byte[] payload = new byte[size];
            new Random(7).nextBytes(payload);
            Courier courier = connect();
            String topic = topic("large");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")), received);
            join(courier.publisher().publish(topic, payload), "publish of " + size + " bytes");
            await.until("the large message is received", () -> received.count() >= 1, received::summary);
            byte[] got = received.first().payload();
            assertThat(got.length).as("payload size").isEqualTo(size);
            assertThat(java.util.Arrays.equals(got, payload)).as("payload bytes equal").isTrue();
        }

        @Test
        @DisplayName("unwrap refuses, with IllegalArgumentException, a native type the binding does not have")
        void unwrapRefusesUnknownTypes() {
            Courier courier = connect();
            String topic = topic("unwrap");
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(1);
            courier.subscribe(inGroup(topic, group("g")), d -> {
                try {
                    d.unwrap(NotANativeType.class);
                } catch (Throwable t) {
                    thrown.set(t);
                } finally {
                    done.countDown();
                }
            });
            join(courier.publisher().publish(topic, "x"), "publish");
            await.until("the message is handled", () -> done.getCount() == 0);
            assertThat(thrown.get()).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** A type no binding has behind its deliveries. */
    static final class NotANativeType {
    }

    @Nested
    @DisplayName("Consumer groups and broadcast")
    class Groups {

        @Test
        @RequiresCapability(Capability.CONSUMER_GROUPS)
        @DisplayName("competing consumers in one group share the messages: each gets some, none twice, none lost")
        void competingConsumersShareTheLoad() {
            int wave = 50;
            String topic = topic("work");
            String group = group("workers");
            List<Received> workers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Received r = new Received();
                workers.add(r);
                connect().subscribe(inGroup(topic, group).maxInFlight(1), d -> {
                    r.record(d);
                    Thread.sleep(2); // simulated work, so no consumer can take everything
                });
            }
            // publish in waves until every consumer has had a share: a broker may need a moment to
            // bring a new member into the group (a Kafka rebalance), and work published before that
            // legitimately goes to the members already there
            Publisher publisher = connect().publisher();
            List<String> ids = new ArrayList<>();
            long deadline = System.nanoTime() + await.timeout().toNanos();
            do {
                ids.addAll(publishTexts(publisher, topic, "w" + ids.size(), wave));
                int published = ids.size();
                await.until("the group handles all " + published + " messages",
                        () -> workers.stream().flatMap(w -> w.ids().stream()).distinct().count() >= published,
                        () -> workers.stream().map(Received::count).toList());
            } while (workers.stream().anyMatch(w -> w.count() == 0) && System.nanoTime() - deadline < 0);

            Set<String> all = new HashSet<>();
            int deliveries = 0;
            for (int i = 0; i < workers.size(); i++) {
                Received w = workers.get(i);
                assertThat(w.count()).as("messages handled by consumer " + (i + 1) + " of 3 (per consumer: "
                        + workers.stream().map(Received::count).toList() + ")").isPositive();
                deliveries += w.count();
                all.addAll(w.ids());
            }
            assertThat(all).as("ids handled by the group").containsExactlyInAnyOrderElementsOf(ids);
            assertThat(deliveries).as("deliveries across the group (a duplicate would make it larger)").isEqualTo(ids.size());
        }

        @Test
        @RequiresCapability(Capability.CONSUMER_GROUPS)
        @DisplayName("two groups each receive every message")
        void twoGroupsEachReceiveEverything() {
            int total = 100;
            Courier courier = connect();
            String topic = topic("fanout");
            Received a = new Received();
            Received b = new Received();
            courier.subscribe(inGroup(topic, group("a")), a);
            courier.subscribe(inGroup(topic, group("b")), b);
            List<String> ids = publishTexts(courier.publisher(), topic, "f", total);

            await.until("both groups have " + total + " messages", () -> a.distinct() >= total && b.distinct() >= total,
                    () -> "a: " + a + ", b: " + b);
            assertThat(a.ids()).as("group a").containsExactlyInAnyOrderElementsOf(ids);
            assertThat(b.ids()).as("group b").containsExactlyInAnyOrderElementsOf(ids);
            assertThat(a.count()).as("deliveries to group a").isEqualTo(total);
            assertThat(b.count()).as("deliveries to group b").isEqualTo(total);
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.LATE_GROUP_RECEIVES_EARLIER})
        @DisplayName("a group that subscribes after the messages were published still receives them")
        void lateGroupReceivesEarlierMessages() {
            Courier courier = connect();
            String topic = topic("history");
            List<String> ids = publishTexts(courier.publisher(), topic, "h", 50);
            Received late = new Received();
            courier.subscribe(inGroup(topic, group("late")), late);
            await.until("the late group has all 50 messages", () -> late.distinct() >= 50, late::summary);
            assertThat(late.ids()).containsExactlyInAnyOrderElementsOf(ids);
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE})
        @DisplayName("a group that comes back resumes after what it acked and gets what was published meanwhile")
        void groupResumesWhereItLeftOff() {
            String topic = topic("resume");
            String group = group("g");
            Courier courier = connect();
            Received first = new Received();
            Subscription s = courier.subscribe(inGroup(topic, group), first);
            List<String> before = publishTexts(courier.publisher(), topic, "before", 10);
            await.until("the first subscriber has 10 messages", () -> first.distinct() >= 10, first::summary);
            s.close();

            List<String> after = publishTexts(courier.publisher(), topic, "after", 10);
            Received second = new Received();
            courier.subscribe(inGroup(topic, group), second);
            await.until("the returning subscriber has the 10 new messages", () -> second.ids().containsAll(after), second::summary);
            assertThat(second.ids()).as("messages the group had already acked").doesNotContainAnyElementsOf(before);
        }

        @Test
        @RequiresCapability(Capability.BROADCAST)
        @DisplayName("without a group every subscription receives every message published after it started")
        void broadcastReachesEverySubscriber() {
            String topic = topic("news");
            Received one = new Received();
            Received two = new Received();
            connect().subscribe(Subscribe.to(topic), one);
            connect().subscribe(Subscribe.to(topic), two);
            List<String> ids = publishTexts(connect().publisher(), topic, "n", 20);
            await.until("both subscribers have 20 messages", () -> one.distinct() >= 20 && two.distinct() >= 20,
                    () -> "one: " + one + ", two: " + two);
            assertThat(one.ids()).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(two.ids()).containsExactlyInAnyOrderElementsOf(ids);
        }

        @Test
        @RequiresCapability(Capability.REPLAY)
        @DisplayName("a subscription starting from the earliest message replays what was published before it")
        void replayFromEarliest() {
            Courier courier = connect();
            String topic = topic("replay");
            List<String> ids = publishTexts(courier.publisher(), topic, "r", 10);
            Received replay = new Received();
            courier.subscribe(Subscribe.to(topic).startFrom(StartPosition.earliest()), replay);
            await.until("the replaying subscription has 10 messages", () -> replay.distinct() >= 10, replay::summary);
            assertThat(replay.ids()).containsExactlyInAnyOrderElementsOf(ids);
        }
    }

    @Nested
    @DisplayName("Ordering and flow control")
    class OrderingAndFlow {

        @Test
        @RequiresCapability(Capability.PER_KEY_ORDER)
        @DisplayName("with BY_KEY and concurrency 8, each key's messages are handled one at a time in publish order")
        void perKeyOrderUnderConcurrency() throws Exception {
            int keys = 40;
            int perKey = 25;
            int publishers = 4;
            Courier courier = connect();
            String topic = topic("ordered");
            Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
            Set<String> running = ConcurrentHashMap.newKeySet();
            List<String> overlaps = new CopyOnWriteArrayList<>();
            AtomicInteger count = new AtomicInteger();
            courier.subscribe(inGroup(topic, group("g")).concurrency(8).ordering(Ordering.BY_KEY), d -> {
                String key = d.message().key();
                if (!running.add(key)) {
                    overlaps.add(key);
                }
                try {
                    if (ThreadLocalRandom.current().nextInt(4) == 0) {
                        Thread.sleep(1); // shuffle the threads a little
                    }
                    handled.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(Integer.parseInt(d.message().header("x-seq")));
                } finally {
                    running.remove(key);
                    count.incrementAndGet();
                }
            });

            // each key belongs to one publishing thread (its publish order is then well defined); threads interleave
            ExecutorService pool = threads(publishers);
            List<Future<List<CompletableFuture<PublishReceipt>>>> work = new ArrayList<>();
            for (int p = 0; p < publishers; p++) {
                int publisher = p;
                work.add(pool.submit(() -> {
                    List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>();
                    for (int seq = 0; seq < perKey; seq++) {
                        for (int k = publisher; k < keys; k += publishers) {
                            Message m = courier.publisher().message(topic, "k" + k + "-" + seq).key("k" + k)
                                    .header("x-seq", Integer.toString(seq)).build();
                            stages.add(courier.publisher().publish(m).toCompletableFuture());
                        }
                    }
                    return stages;
                }));
            }
            for (Future<List<CompletableFuture<PublishReceipt>>> f : work) {
                for (CompletableFuture<PublishReceipt> s : f.get(await.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    join(s, "publish");
                }
            }

            int total = keys * perKey;
            await.until(total + " messages are handled", () -> count.get() >= total, count::get);
            List<Integer> expected = IntStream.range(0, perKey).boxed().toList();
            for (int k = 0; k < keys; k++) {
                assertThat(handled.get("k" + k)).as("handling order of key k" + k).isEqualTo(expected);
            }
            assertThat(overlaps).as("keys handled by two threads at once").isEmpty();
        }

        @Test
        @RequiresCapability(Capability.PER_KEY_ORDER)
        @DisplayName("an unsettled message holds back later messages of its key while other keys proceed")
        void unsettledMessageHoldsBackItsKey() {
            Courier courier = connect();
            String topic = topic("hold");
            CountDownLatch blocked = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            closeAfterCase(release::countDown);
            List<String> handled = new CopyOnWriteArrayList<>();
            Received attempts = new Received();
            courier.subscribe(inGroup(topic, group("g")).concurrency(4).ordering(Ordering.BY_KEY), d -> {
                attempts.record(d);
                String text = d.payload(String.class);
                if (text.equals("A-0")) {
                    blocked.countDown();
                    // released by the case, or when it ends; never by a timeout that would let the case pass late
                    release.await();
                }
                handled.add(text);
            });
            Publisher p = courier.publisher();
            String a0 = join(p.publish(topic, "A", "A-0"), "publish A-0").messageId();
            await.until("the handler of A-0 has started", () -> blocked.getCount() == 0, () -> handled);

            List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                stages.add(p.publish(topic, "B", "B-" + i).toCompletableFuture());
            }
            stages.add(p.publish(topic, "A", "A-1").toCompletableFuture());
            stages.add(p.publish(topic, "A", "A-2").toCompletableFuture());
            for (int i = 0; i < 5; i++) {
                stages.add(p.publish(topic, "C", "C-" + i).toCompletableFuture());
            }
            join(CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)), "publish");

            await.until("keys B and C are handled while A-0 is still running",
                    () -> handled.stream().filter(t -> !t.startsWith("A")).count() >= 10, () -> handled);
            assertThat(handled).as("handled while A-0 is unsettled").noneMatch(t -> t.startsWith("A"));

            release.countDown();
            await.until("A-0, A-1 and A-2 are handled", () -> handled.stream().filter(t -> t.startsWith("A")).count() >= 3, () -> handled);
            assertThat(handled.stream().filter(t -> t.startsWith("A")).toList()).containsExactly("A-0", "A-1", "A-2");
            assertThat(attempts.attempts(a0)).as("attempts of A-0").containsExactly(1);
        }

        @Test
        @DisplayName("a handler that is still running does not hold back other messages while permits are free")
        void busyHandlerDoesNotBlockFreePermits() {
            Courier courier = connect();
            String topic = topic("busy");
            CountDownLatch blocked = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            closeAfterCase(release::countDown);
            List<String> handled = new CopyOnWriteArrayList<>();
            courier.subscribe(inGroup(topic, group("g")).concurrency(4).ordering(Ordering.NONE), d -> {
                String text = d.payload(String.class);
                if (text.equals("slow")) {
                    blocked.countDown();
                    release.await();
                }
                handled.add(text);
            });
            join(courier.publisher().publish(topic, "slow"), "publish");
            await.until("the slow handler has started", () -> blocked.getCount() == 0, () -> handled);

            // one at a time, each after the previous one was handled: every message finds a free permit
            for (int i = 0; i < 5; i++) {
                String text = "quick-" + i;
                join(courier.publisher().publish(topic, text), "publish " + text);
                await.until(text + " is handled while the slow handler runs (3 of 4 permits are free)",
                        () -> handled.contains(text), () -> handled);
            }
            release.countDown();
            await.until("the slow message is handled", () -> handled.contains("slow"), () -> handled);
        }

        @Test
        @DisplayName("an async handler's unsettled deliveries count against the concurrency until settled")
        void unsettledAsyncDeliveriesAreBounded() {
            int concurrency = 3;
            int total = 12;
            Courier courier = connect();
            String topic = topic("bounded");
            List<Delivery> held = new CopyOnWriteArrayList<>();
            AtomicBoolean settleAtOnce = new AtomicBoolean();
            Set<String> acked = ConcurrentHashMap.newKeySet();
            // maxInFlight well above the concurrency: the bound seen must come from the concurrency, not the prefetch
            courier.subscribeAsync(inGroup(topic, group("g")).concurrency(concurrency).maxInFlight(concurrency * 4), d -> {
                if (settleAtOnce.get()) {
                    acked.add(d.message().id());
                    return CompletableFuture.completedFuture(null);
                }
                held.add(d);
                return null; // settled later, explicitly
            });
            publishTexts(courier.publisher(), topic, "b", total);

            await.until(concurrency + " deliveries are held", () -> held.size() >= concurrency, held::size);
            Await.holdsFor(QUIET_WINDOW, "no more than " + concurrency + " unsettled deliveries", () -> held.size() <= concurrency,
                    held::size);

            settleAtOnce.set(true);
            for (Delivery d : held) {
                acked.add(d.message().id());
                d.ack();
            }
            await.until("all " + total + " messages are acked", () -> acked.size() >= total, acked::size);
        }

        @Test
        @DisplayName("a paused subscription receives nothing new and gets it after resume")
        void pauseAndResume() {
            Courier courier = connect();
            String topic = topic("pause");
            Received paused = new Received();
            Received probe = new Received();
            Subscription s = courier.subscribe(Subscribe.to(topic).group(group("paused")), paused);
            courier.subscribe(Subscribe.to(topic).group(group("probe")), probe);
            publishTexts(courier.publisher(), topic, "before", 5);
            await.until("5 messages before the pause", () -> paused.distinct() >= 5, paused::summary);

            s.pause();
            assertThat(s.isPaused()).isTrue();
            List<String> during = publishTexts(courier.publisher(), topic, "during", 5);
            await.until("the other group has the 5 new messages", () -> probe.ids().containsAll(during), probe::summary);
            Await.holdsFor(QUIET_WINDOW, "the paused subscription receives nothing", () -> paused.count() == 5, paused::summary);

            s.resume();
            assertThat(s.isPaused()).isFalse();
            await.until("the resumed subscription has the messages published while paused", () -> paused.ids().containsAll(during),
                    paused::summary);
        }
    }

    @Nested
    @DisplayName("Redelivery")
    @RequiresCapability(Capability.REDELIVERY)
    class Redelivery {

        @Test
        @DisplayName("nack redelivers after the delay with the attempt count 1, 2, 3")
        void nackRedeliversWithAttemptCount() {
            Courier courier = connect();
            String topic = topic("nack");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")), d -> {
                received.record(d);
                if (d.attempt() < 3) {
                    d.nack(REDELIVERY_DELAY);
                }
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "n", 3);
            await.until("each message is delivered 3 times", () -> ids.stream().allMatch(id -> received.attempts(id).size() >= 3),
                    received::summary);
            for (String id : ids) {
                assertThat(received.attempts(id)).as("attempts of " + id).containsExactly(1, 2, 3);
            }
        }

        @Test
        @DisplayName("a handler that throws gets the message again with the next attempt number")
        void failureRedeliversWithAttemptCount() {
            Courier courier = connect();
            String topic = topic("throw");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")).maxAttempts(5), d -> {
                received.record(d);
                if (d.attempt() < 3) {
                    throw new IllegalStateException("transient failure " + d.attempt());
                }
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "t", 3);
            await.until("each message is delivered 3 times", () -> ids.stream().allMatch(id -> received.attempts(id).size() >= 3),
                    received::summary);
            for (String id : ids) {
                assertThat(received.attempts(id)).as("attempts of " + id).containsExactly(1, 2, 3);
            }
        }

        @Test
        @RequiresCapability(Capability.ORDERED_DELAYED_REDELIVERY)
        @DisplayName("a message waiting for its delayed redelivery holds back later messages of its key")
        void delayedRedeliveryHoldsTheKey() {
            Courier courier = connect();
            String topic = topic("held");
            List<String> handled = new CopyOnWriteArrayList<>();
            courier.subscribe(inGroup(topic, group("g")), d -> {
                String text = new String(d.message().payload(), StandardCharsets.UTF_8);
                handled.add(text + "#" + d.attempt());
                if (text.equals("first") && d.attempt() == 1) {
                    d.nack(Duration.ofMillis(500));
                }
            });
            join(courier.publisher().publish(topic, "k", "first"), "publish first");
            join(courier.publisher().publish(topic, "k", "second"), "publish second");
            await.until("three deliveries", () -> handled.size() >= 3, handled::toString);
            assertThat(handled).containsExactly("first#1", "first#2", "second#1");
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE})
        @DisplayName("after several consumers nacked everything for a while, a fresh consumer of the group gets every message")
        void freshConsumerGetsWhatOthersNacked() {
            int total = 30;
            String topic = topic("nacked");
            String group = group("g");
            AtomicInteger nacks = new AtomicInteger();
            Set<String> nacked = ConcurrentHashMap.newKeySet();
            List<Subscription> nackers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                nackers.add(connect().subscribe(inGroup(topic, group).concurrency(2).maxAttempts(1000), d -> {
                    nacked.add(d.message().id());
                    nacks.incrementAndGet();
                    d.nack(REDELIVERY_DELAY);
                }));
            }
            List<String> ids = publishTexts(connect().publisher(), topic, "x", total);
            await.until("every message was nacked and there were " + (3 * total) + " nacks",
                    () -> nacked.size() >= total && nacks.get() >= 3 * total, () -> nacked.size() + " messages, " + nacks.get() + " nacks");
            nackers.forEach(Subscription::close);

            Received fresh = new Received();
            connect().subscribe(inGroup(topic, group), fresh);
            await.until("the fresh consumer has all " + total + " messages", () -> fresh.ids().containsAll(ids), fresh::summary);
        }
    }

    @Nested
    @DisplayName("Dead letters")
    @RequiresCapability(Capability.DEAD_LETTER)
    class DeadLetters {

        private Received deadLetters(Courier courier, String deadLetterTopic) {
            Received dlq = new Received();
            courier.subscribe(Subscribe.to(deadLetterTopic).group(group("dlq-reader")), dlq);
            return dlq;
        }

        private Message sample(Courier courier, String topic) {
            return courier.publisher().message(topic, new Order("o-9", 9.5, List.of("x"))).key("k-9").header("x-trace", "t-9").build();
        }

        private void assertIntact(Message dead, Message original) {
            assertThat(dead.payload()).as("dead letter payload").isEqualTo(original.payload());
            assertThat(dead.key()).as("dead letter key").isEqualTo(original.key());
            assertThat(dead.headers().asMap()).as("dead letter headers").containsEntry("x-trace", "t-9");
            assertThat(base(dead.contentType())).as("dead letter content type").isEqualTo(base(original.contentType()));
        }

        @Test
        @RequiresCapability(Capability.REDELIVERY)
        @DisplayName("a message that keeps failing goes to <topic>.<group>.dlq after maxAttempts, with failure headers")
        void exhaustedAttemptsGoToTheDeadLetterTopic() {
            Courier courier = connect();
            String topic = topic("fails");
            String group = group("g");
            Subscribe spec = inGroup(topic, group).maxAttempts(3);
            assertThat(spec.deadLetterTopic()).isEqualTo(topic + "." + group + ".dlq");
            Received dlq = deadLetters(courier, spec.deadLetterTopic());
            Received attempts = new Received();
            courier.subscribe(spec, d -> {
                attempts.record(d);
                throw new IllegalStateException("boom on attempt " + d.attempt());
            });
            Message original = sample(courier, topic);
            join(courier.publisher().publish(original), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(attempts.attempts(original.id())).as("attempts before dead-lettering").containsExactly(1, 2, 3);
            assertThat(dead.topic()).isEqualTo(spec.deadLetterTopic());
            assertThat(dead.header(HeaderNames.DLQ_REASON)).as("reason").isNotBlank().contains("boom");
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).as("exception").isEqualTo(IllegalStateException.class.getName());
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).as("original topic").isEqualTo(topic);
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).as("original group").isEqualTo(group);
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).as("attempts").isEqualTo("3");
            assertIntact(dead, original);
        }

        @Test
        @DisplayName("delivery.deadLetter(reason) sends the message to the dead-letter topic with that reason")
        void explicitDeadLetter() {
            Courier courier = connect();
            String topic = topic("explicit");
            String group = group("g");
            Subscribe spec = inGroup(topic, group);
            Received dlq = deadLetters(courier, spec.deadLetterTopic());
            courier.subscribe(spec, d -> d.deadLetter("customer unknown"));
            Message original = sample(courier, topic);
            join(courier.publisher().publish(original), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(dead.header(HeaderNames.DLQ_REASON)).as("reason").isEqualTo("customer unknown");
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).as("original topic").isEqualTo(topic);
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).as("original group").isEqualTo(group);
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).as("attempts").isEqualTo("1");
            assertIntact(dead, original);
        }

        @Test
        @DisplayName("a NonRetryableException dead-letters the message at once, after a single attempt")
        void nonRetryableGoesStraightToTheDeadLetterTopic() {
            Courier courier = connect();
            String topic = topic("fatal");
            Subscribe spec = inGroup(topic, group("g")).maxAttempts(5);
            Received dlq = deadLetters(courier, spec.deadLetterTopic());
            Received attempts = new Received();
            courier.subscribe(spec, d -> {
                attempts.record(d);
                throw new NonRetryableException("order o-9 is malformed");
            });
            Message original = sample(courier, topic);
            join(courier.publisher().publish(original), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(attempts.attempts(original.id())).as("attempts").containsExactly(1);
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("1");
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(NonRetryableException.class.getName());
            assertThat(dead.header(HeaderNames.DLQ_REASON)).contains("order o-9 is malformed");
            assertIntact(dead, original);
        }

        @Test
        @DisplayName("a payload that cannot be decoded is dead-lettered at once with reason \"undecodable payload...\"")
        void undecodablePayloadIsDeadLettered() {
            Courier courier = connect();
            String topic = topic("garbage");
            Subscribe spec = inGroup(topic, group("g")).maxAttempts(5);
            Received dlq = deadLetters(courier, spec.deadLetterTopic());
            Received attempts = new Received();
            courier.subscribe(spec, d -> {
                attempts.record(d);
                d.payload(Order.class);
            });
            Message garbage = Message.builder(topic).payload("{not json".getBytes(StandardCharsets.UTF_8))
                    .contentType(ContentTypes.JSON).header("x-trace", "t-9").build();
            join(courier.publisher().publish(garbage), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(attempts.attempts(garbage.id())).as("attempts").containsExactly(1);
            assertThat(dead.header(HeaderNames.DLQ_REASON)).as("reason").startsWith("undecodable payload");
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(dev.courier.CodecException.class.getName());
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("1");
            assertThat(dead.payload()).isEqualTo(garbage.payload());
        }

        @Test
        @RequiresCapability(Capability.BROADCAST)
        @DisplayName("a broadcast subscription dead-letters to <topic>.dlq with an empty original group")
        void broadcastDeadLetter() {
            Courier courier = connect();
            String topic = topic("bcast");
            Subscribe spec = Subscribe.to(topic);
            assertThat(spec.deadLetterTopic()).isEqualTo(topic + ".dlq");
            Received dlq = deadLetters(courier, spec.deadLetterTopic());
            courier.subscribe(spec, d -> d.deadLetter("not for me"));
            Message original = sample(courier, topic);
            join(courier.publisher().publish(original), "publish");
            await.until("the dead letter arrives on " + spec.deadLetterTopic(), () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(dead.header(HeaderNames.DLQ_REASON)).isEqualTo("not for me");
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).as("original group of a broadcast subscription").isEmpty();
            assertIntact(dead, original);
        }

        @Test
        @DisplayName("Subscribe.deadLetterTopic(...) chooses where dead letters go")
        void customDeadLetterTopic() {
            Courier courier = connect();
            String topic = topic("custom");
            String parking = topic("parking");
            Received dlq = deadLetters(courier, parking);
            courier.subscribe(inGroup(topic, group("g")).deadLetterTopic(parking), d -> d.deadLetter("park it"));
            Message original = sample(courier, topic);
            join(courier.publisher().publish(original), "publish");
            await.until("the dead letter arrives on " + parking, () -> dlq.count() >= 1, dlq::summary);
            assertThat(dlq.first().header(HeaderNames.DLQ_REASON)).isEqualTo("park it");
            assertIntact(dlq.first(), original);
        }
    }

    @Nested
    @DisplayName("Dead-letter list and redrive")
    @RequiresCapability({Capability.DEAD_LETTER, Capability.CONSUMER_GROUPS})
    class DeadLetterRedrive {

        /** Long enough for a consumer-group join on every binding; every list and redrive waits it out once. */
        private final Duration idle = Duration.ofSeconds(5);

        private final AtomicBoolean failing = new AtomicBoolean(true);
        /** Original id (first publish) -> the redriven message the handler processed. */
        private final Map<String, Message> processed = new ConcurrentHashMap<>();
        private final Set<String> deadLettered = ConcurrentHashMap.newKeySet();

        /** A group subscription that dead-letters every message after 2 attempts while {@link #failing} is set. */
        private Courier failingConsumer(String topic, String group) {
            Courier courier = connect(new CourierListener() {
                @Override
                public void deadLettered(Delivery delivery, String deadLetterTopic, String reason) {
                    deadLettered.add(delivery.message().id());
                }
            });
            courier.subscribe(inGroup(topic, group).maxAttempts(2), d -> {
                String text = new String(d.message().payload(), StandardCharsets.UTF_8);
                if (failing.get()) {
                    if (text.startsWith("conn")) {
                        throw new IllegalStateException("connection refused for " + text);
                    }
                    throw new IllegalArgumentException("bad " + text);
                }
                String original = d.message().header(dev.courier.reliability.deadletter.DeadLetters.ORIGINAL_ID);
                processed.put(original != null ? original : d.message().id(), d.message());
            });
            return courier;
        }

        private List<String> publishDeadLetters(Courier courier, String topic, String... texts) {
            List<String> ids = new ArrayList<>();
            for (String t : texts) {
                Message m = courier.publisher().message(topic, t).key("k-" + t).header("x-trace", "trace-" + t).build();
                join(courier.publisher().publish(m), "publish " + t);
                ids.add(m.id());
            }
            await.until("all " + texts.length + " are dead-lettered", () -> deadLettered.containsAll(ids),
                    () -> deadLettered.size() + " dead-lettered");
            return ids;
        }

        private Set<String> originalIds(List<dev.courier.reliability.deadletter.DeadLetter> dls) {
            return dls.stream().map(dev.courier.reliability.deadletter.DeadLetter::originalId).collect(Collectors.toSet());
        }

        @Test
        @DisplayName("dead-lettered messages are listed with their failure information, and listing consumes nothing")
        void listShowsFailureInformation() {
            String topic = topic("orders");
            String group = group("billing");
            Courier courier = failingConsumer(topic, group);
            List<String> ids = publishDeadLetters(courier, topic, "conn-1", "bad-2");
            var dlq = dev.courier.reliability.deadletter.DeadLetters.of(courier, group("redrive"));
            String dlqTopic = Subscribe.to(topic).group(group).deadLetterTopic();

            var listed = dlq.list(dlqTopic, 100, idle);
            var again = dlq.list(dlqTopic, 100, idle);

            assertThat(originalIds(listed)).as("listed dead letters").containsExactlyInAnyOrderElementsOf(ids);
            assertThat(listed).hasSize(2);
            assertThat(originalIds(again)).as("a second list: nothing was consumed").containsExactlyInAnyOrderElementsOf(ids);
            for (var dl : listed) {
                String text = new String(dl.message().payload(), StandardCharsets.UTF_8);
                assertThat(dl.originalTopic()).isEqualTo(topic);
                assertThat(dl.originalGroup()).isEqualTo(group);
                assertThat(dl.attempts()).isEqualTo(2);
                assertThat(dl.reason()).contains("gave up after 2 attempt");
                assertThat(dl.exceptionClass()).isEqualTo(text.startsWith("conn") ? IllegalStateException.class.getName()
                        : IllegalArgumentException.class.getName());
                assertThat(dl.exceptionMessage()).endsWith(text);
                assertThat(dl.deadLetteredAt()).isPresent();
                assertThat(dl.message().key()).isEqualTo("k-" + text);
                assertThat(dl.message().header("x-trace")).isEqualTo("trace-" + text);
            }
        }

        @Test
        @DisplayName("redrive moves every dead letter back to its topic, the handler processes them, and nothing is left pending")
        void redriveMovesAllBack() {
            String topic = topic("orders");
            String group = group("billing");
            Courier courier = failingConsumer(topic, group);
            List<String> ids = publishDeadLetters(courier, topic, "conn-1", "conn-2", "bad-3");
            var dlq = dev.courier.reliability.deadletter.DeadLetters.of(courier, group("redrive"));
            String dlqTopic = Subscribe.to(topic).group(group).deadLetterTopic();
            failing.set(false);

            var result = dlq.redrive(dev.courier.reliability.deadletter.Redrive.from(dlqTopic).idleTimeout(idle));

            assertThat(result.redriven()).as("redriven of " + result).isEqualTo(3);
            assertThat(result.skipped() + result.failed()).as("skipped and failed of " + result).isZero();
            await.until("the handler processed the 3 redriven messages", () -> processed.keySet().containsAll(ids),
                    () -> processed.keySet().toString());
            for (Message back : processed.values()) {
                assertThat(back.headers().asMap().keySet()).as("headers of a redriven message").noneMatch(h -> h.startsWith("courier-dlq-"));
                assertThat(back.header("x-trace")).isNotNull();
            }
            assertThat(dlq.list(dlqTopic, 100, idle)).as("pending dead letters after a full redrive").isEmpty();
        }

        @Test
        @DisplayName("a filtered redrive moves only the selected dead letters; the others stay pending")
        void filteredRedriveLeavesTheOthers() {
            String topic = topic("orders");
            String group = group("billing");
            Courier courier = failingConsumer(topic, group);
            List<String> ids = publishDeadLetters(courier, topic, "conn-1", "bad-2", "conn-3", "bad-4");
            var dlq = dev.courier.reliability.deadletter.DeadLetters.of(courier, group("redrive"));
            String dlqTopic = Subscribe.to(topic).group(group).deadLetterTopic();
            failing.set(false);

            var result = dlq.redrive(dev.courier.reliability.deadletter.Redrive.from(dlqTopic).idleTimeout(idle)
                    .filter(dl -> dl.exceptionClass().equals(IllegalStateException.class.getName())));

            assertThat(result.redriven()).as("redriven of " + result).isEqualTo(2);
            assertThat(result.skipped()).as("skipped of " + result).isEqualTo(2);
            await.until("the handler processed the 2 selected messages", () -> processed.size() >= 2, () -> processed.keySet().toString());
            assertThat(processed.keySet()).containsExactlyInAnyOrder(ids.get(0), ids.get(2));
            var left = dlq.list(dlqTopic, 100, idle);
            assertThat(originalIds(left)).as("still pending").containsExactlyInAnyOrder(ids.get(1), ids.get(3));
            assertThat(left).hasSize(2).allSatisfy(dl -> assertThat(dl.exceptionClass()).isEqualTo(IllegalArgumentException.class.getName()));
            assertThat(processed.keySet()).as("the skipped ones were not processed").containsExactlyInAnyOrder(ids.get(0), ids.get(2));
        }
    }

    @Nested
    @DisplayName("Request-reply")
    @RequiresCapability(Capability.REQUEST_REPLY)
    class RequestReply {

        @Test
        @DisplayName("a typed request gets the responder's typed reply")
        void typedRequestReply() {
            Courier courier = connect();
            String topic = topic("double");
            courier.respond(Subscribe.to(topic).group(group("responders")), d -> new Answer(d.payload(Query.class).n() * 2, "responder"));
            Answer answer = join(courier.requester().request(topic, new Query(21), Answer.class, Duration.ofSeconds(10)), "request");
            assertThat(answer).isEqualTo(new Answer(42, "responder"));
        }

        @Test
        @DisplayName("concurrent requests each get their own reply")
        void concurrentRequestsCorrelate() {
            int requests = 40;
            Courier responderSide = connect();
            Courier requesterSide = connect();
            String topic = topic("square");
            responderSide.respond(Subscribe.to(topic).group(group("responders")).concurrency(4), d -> {
                int n = d.payload(Query.class).n();
                if (n % 3 == 0) {
                    Thread.sleep(2); // replies come back out of order
                }
                return new Answer(n * n, "r");
            });
            ExecutorService pool = threads(8);
            List<CompletableFuture<Answer>> replies = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                int n = i;
                replies.add(CompletableFuture.supplyAsync(() -> requesterSide.requester()
                        .request(topic, new Query(n), Answer.class, Duration.ofSeconds(20)), pool).thenCompose(s -> s));
            }
            for (int i = 0; i < requests; i++) {
                assertThat(join(replies.get(i), "request " + i).n()).as("reply to request " + i).isEqualTo(i * i);
            }
        }

        @Test
        @RequiresCapability(Capability.CONSUMER_GROUPS)
        @DisplayName("responders in one group share the requests: each request is answered exactly once")
        void respondersInAGroupAnswerOnce() {
            int wave = 20;
            String topic = topic("shared");
            String group = group("responders");
            AtomicInteger handled = new AtomicInteger();
            Set<Integer> seen = ConcurrentHashMap.newKeySet();
            List<String> duplicates = new CopyOnWriteArrayList<>();
            Map<String, AtomicInteger> answeredBy = new ConcurrentHashMap<>();
            for (int i = 0; i < 2; i++) {
                String name = "r" + i;
                answeredBy.put(name, new AtomicInteger());
                connect().respond(Subscribe.to(topic).group(group), d -> {
                    handled.incrementAndGet();
                    int n = d.payload(Query.class).n();
                    if (!seen.add(n)) {
                        duplicates.add("request " + n);
                    }
                    Thread.sleep(2); // some work, so neither responder can take everything
                    return new Answer(n, name);
                });
            }
            Courier requester = connect();
            // in waves until both responders answered: a broker may need a moment to bring the second into the group
            int requests = 0;
            long deadline = System.nanoTime() + await.timeout().toNanos();
            do {
                List<CompletableFuture<Answer>> replies = new ArrayList<>();
                for (int i = requests; i < requests + wave; i++) {
                    replies.add(requester.requester().request(topic, new Query(i), Answer.class, Duration.ofSeconds(20)).toCompletableFuture());
                }
                for (int i = 0; i < wave; i++) {
                    Answer a = join(replies.get(i), "request " + (requests + i));
                    assertThat(a.n()).isEqualTo(requests + i);
                    answeredBy.get(a.by()).incrementAndGet();
                }
                requests += wave;
            } while (answeredBy.values().stream().anyMatch(c -> c.get() == 0) && System.nanoTime() - deadline < 0);
            int sent = requests;
            Await.holdsFor(QUIET_WINDOW, "no request handled again after its reply", () -> handled.get() == sent, handled::get);
            assertThat(duplicates).as("requests handled by more than one responder").isEmpty();
            assertThat(handled.get()).as("responder invocations").isEqualTo(requests);
            assertThat(answeredBy).as("requests answered per responder").allSatisfy((name, count) -> assertThat(count.get()).isPositive());
        }

        @Test
        @DisplayName("a request without a reply within its timeout fails with RequestTimeoutException")
        void requestTimesOut() {
            Courier courier = connect();
            String topic = topic("slow");
            CountDownLatch release = new CountDownLatch(1);
            courier.respond(Subscribe.to(topic).group(group("responders")), d -> {
                release.await(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
                return new Answer(0, "too late");
            });
            closeAfterCase(release::countDown);
            Throwable failure = failureOf(courier.requester().request(topic, new Query(1), Answer.class, Duration.ofMillis(300)), "request");
            assertThat(failure).isInstanceOf(RequestTimeoutException.class);
            assertThat(((RequestTimeoutException) failure).topic()).isEqualTo(topic);
        }

        @Test
        @DisplayName("code chained onto a timed-out request that blocks does not hold up another request's timeout")
        void blockingCallbackOnATimeoutHoldsUpNoOtherTimeout() throws InterruptedException {
            Courier courier = connect();
            String topic = topic("stuck");
            CountDownLatch release = new CountDownLatch(1);
            courier.respond(Subscribe.to(topic).group(group("responders")), d -> {
                release.await(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
                return new Answer(0, "too late");
            });
            closeAfterCase(release::countDown);
            CountDownLatch blocking = new CountDownLatch(1);
            courier.requester().request(topic, new Query(1), Answer.class, Duration.ofMillis(300))
                    .whenComplete(Await.blockingCallback(blocking, release));
            assertThat(blocking.await(await.timeout().toMillis(), TimeUnit.MILLISECONDS)).as("the first request ended").isTrue();
            Throwable failure = failureOf(courier.requester().request(topic, new Query(2), Answer.class, Duration.ofMillis(300)),
                    "a second request, while code chained onto the first one blocks");
            assertThat(failure).isInstanceOf(RequestTimeoutException.class);
        }

        @Test
        @DisplayName("a request nobody answers fails with NoResponderException where the binding detects it, else RequestTimeoutException")
        void requestWithoutResponder() {
            Courier courier = connect();
            String topic = topic("nobody");
            boolean detects = capabilities().supports(Capability.NO_RESPONDER_DETECTION);
            Duration timeout = detects ? await.timeout() : Duration.ofMillis(300);
            Throwable failure = failureOf(courier.requester().request(topic, new Query(1), Answer.class, timeout), "request");
            if (detects) {
                assertThat(failure).as("the binding declares NO_RESPONDER_DETECTION").isInstanceOf(NoResponderException.class);
                assertThat(((NoResponderException) failure).topic()).isEqualTo(topic);
            } else {
                assertThat(failure).isInstanceOf(RequestTimeoutException.class);
            }
        }

        @Test
        @DisplayName("a request still waiting for its reply when its Courier closes fails with ClosedException then, not at its timeout")
        void closeFailsWaitingRequests() throws InterruptedException {
            Courier responderSide = connect();
            Courier requesterSide = connect();
            String topic = topic("held");
            CountDownLatch received = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            responderSide.respond(Subscribe.to(topic).group(group("responders")), d -> {
                received.countDown();
                release.await(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
                return new Answer(0, "after close");
            });
            closeAfterCase(release::countDown);
            // far longer than the wait below: only the close can end it in time
            CompletionStage<Answer> reply = requesterSide.requester().request(topic, new Query(1), Answer.class, Duration.ofMinutes(10));
            assertThat(received.await(await.timeout().toMillis(), TimeUnit.MILLISECONDS)).as("the responder got the request").isTrue();
            requesterSide.close();
            assertThat(failureOf(reply, "the request pending at close")).isInstanceOf(ClosedException.class);
        }

        @Test
        @DisplayName("a responder that throws makes the request fail with RequestFailedException carrying its error")
        void responderFailureFailsTheRequest() {
            Courier courier = connect();
            String topic = topic("broken");
            courier.respond(Subscribe.to(topic).group(group("responders")), d -> {
                throw new IllegalArgumentException("no such order");
            });
            Throwable failure = failureOf(courier.requester().request(topic, new Query(1), Answer.class, Duration.ofSeconds(20)), "request");
            assertThat(failure).isInstanceOf(RequestFailedException.class).hasMessageContaining("no such order");
        }
    }

    @Nested
    @DisplayName("Reliability policy")
    class ReliabilityPolicy {

        private final RetryPolicy quick = RetryPolicy.fixed(Duration.ofMillis(20)).jitter(0);

        /** Listener events of the policy, per message id. */
        final class PolicyEvents extends Settlements {
            final List<String> retries = new CopyOnWriteArrayList<>();
            final List<String> duplicates = new CopyOnWriteArrayList<>();
            final List<String> transitions = new CopyOnWriteArrayList<>();
            final List<String> deadLettered = new CopyOnWriteArrayList<>();
            final AtomicReference<Subscription> watched = new AtomicReference<>();
            final List<Boolean> pausedWhenOpened = new CopyOnWriteArrayList<>();

            @Override
            public void retrying(Delivery delivery, int attempt, Duration delay, boolean inProcess, Throwable cause) {
                retries.add(delivery.message().id() + "#" + attempt + (inProcess ? "" : " (broker)"));
            }

            @Override
            public void duplicateSkipped(Delivery delivery, String idempotencyKey, boolean stillInProgress) {
                duplicates.add(delivery.message().id() + (stillInProgress ? " (in progress)" : ""));
            }

            @Override
            public void circuitStateChanged(Subscribe subscription, String breakerName, String fromState, String toState) {
                Subscription sub = watched.get();
                if (toState.equals("OPEN") && sub != null) {
                    pausedWhenOpened.add(sub.isPaused());
                }
                transitions.add(toState);
            }

            @Override
            public void deadLettered(Delivery delivery, String deadLetterTopic, String reason) {
                deadLettered.add(delivery.message().id());
            }

            @Override
            public String toString() {
                return super.toString() + ", retries " + retries + ", duplicates " + duplicates + ", breaker " + transitions
                        + ", dead-lettered " + deadLettered;
            }
        }

        @Test
        @DisplayName("a handler that fails twice succeeds on its third in-process attempt, within one broker delivery")
        void retryThenSuccess() {
            PolicyEvents events = new PolicyEvents();
            Courier courier = connect(events, Reliability.builder().retry(quick.attempts(3)).build());
            String topic = topic("flaky");
            Received attempts = new Received();
            courier.subscribe(inGroup(topic, group("g")).maxAttempts(2), d -> {
                attempts.record(d);
                if (attempts.count() < 3) {
                    throw new IllegalStateException("flaky " + attempts.count());
                }
            });
            Message m = courier.publisher().message(topic, "hello").build();
            join(courier.publisher().publish(m), "publish");

            await.until("the message is acked", () -> events.of(m.id()).contains(Outcome.Kind.ACK), events::toString);
            assertThat(attempts.attempts(m.id())).as("handler runs, all in broker delivery 1").containsExactly(1, 1, 1);
            assertThat(events.of(m.id())).as("settlements").containsExactly(Outcome.Kind.ACK);
            assertThat(events.retries).containsExactly(m.id() + "#1", m.id() + "#2");
        }

        @Test
        @RequiresCapability(Capability.DEAD_LETTER)
        @DisplayName("a handler that keeps failing is dead-lettered after its in-process attempts, with the failure headers")
        void retryThenDeadLetter() {
            PolicyEvents events = new PolicyEvents();
            Courier courier = connect(events, Reliability.builder().retry(quick.attempts(3)).build());
            String topic = topic("fails");
            String group = group("g");
            Subscribe spec = inGroup(topic, group).maxAttempts(10);
            Received dlq = new Received();
            courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group(group("dlq-reader")), dlq);
            Received attempts = new Received();
            courier.subscribe(spec, d -> {
                attempts.record(d);
                throw new IllegalStateException("boom " + attempts.count());
            });
            Message original = courier.publisher().message(topic, new Order("o-9", 9.5, List.of("x"))).key("k-9").header("x-trace", "t-9").build();
            join(courier.publisher().publish(original), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            Message dead = dlq.first();
            assertThat(attempts.attempts(original.id())).as("attempts").containsExactly(1, 1, 1);
            assertThat(dead.payload()).isEqualTo(original.payload());
            assertThat(dead.key()).isEqualTo("k-9");
            assertThat(dead.header("x-trace")).isEqualTo("t-9");
            assertThat(dead.header(HeaderNames.DLQ_REASON)).startsWith("gave up after 3 attempt(s)").contains("boom 3");
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(IllegalStateException.class.getName());
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION_MESSAGE)).isEqualTo("boom 3");
            assertThat(dead.header(HeaderNames.DLQ_STACK)).contains("IllegalStateException");
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).isEqualTo(topic);
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).isEqualTo(group);
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("3");
            assertThat(dead.header(HeaderNames.DLQ_FIRST_FAILURE)).isNotBlank();
            assertThat(dead.header(HeaderNames.DLQ_LAST_FAILURE)).isNotBlank();
            assertThat(dead.header(HeaderNames.DLQ_TIME)).isNotBlank();
        }

        @Test
        @RequiresCapability(Capability.DEAD_LETTER)
        @DisplayName("a NonRetryableException is dead-lettered at once, without in-process or broker retries")
        void nonRetryableDeadLettersAtOnce() {
            PolicyEvents events = new PolicyEvents();
            Courier courier = connect(events, Reliability.builder().retry(quick.attempts(5).thenRedeliverAfter(REDELIVERY_DELAY)).build());
            String topic = topic("fatal");
            Subscribe spec = inGroup(topic, group("g"));
            Received dlq = new Received();
            courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group(group("dlq-reader")), dlq);
            Received attempts = new Received();
            courier.subscribe(spec, d -> {
                attempts.record(d);
                throw new NonRetryableException("order o-9 is malformed");
            });
            Message m = courier.publisher().message(topic, "bad order").build();
            join(courier.publisher().publish(m), "publish");

            await.until("the dead letter arrives", () -> dlq.count() >= 1, dlq::summary);
            assertThat(attempts.attempts(m.id())).containsExactly(1);
            assertThat(events.retries).isEmpty();
            assertThat(dlq.first().header(HeaderNames.DLQ_REASON)).startsWith("non-retryable failure").contains("order o-9 is malformed");
            assertThat(dlq.first().header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("1");
        }

        @Test
        @DisplayName("the same message id published twice is handled once; a duplicate that reaches the consumer is acked and reported")
        void duplicatesAreSuppressed() {
            PolicyEvents events = new PolicyEvents();
            Courier courier = connect(events, Reliability.builder().idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
            String topic = topic("payments");
            Received handled = new Received();
            courier.subscribe(inGroup(topic, group("g")), handled);
            Message m = courier.publisher().message(topic, "pay o-1").id("pay-" + UUID.randomUUID()).build();
            join(courier.publisher().publish(m), "publish");
            PublishReceipt second = join(courier.publisher().publish(m), "publish the duplicate");
            // brokers that deduplicate publishes by message id (JetStream) drop the second copy themselves
            long copies = second.duplicate() ? 1 : 2;

            await.until(copies + " cop(ies) acked", () -> events.of(m.id()).stream().filter(k -> k == Outcome.Kind.ACK).count() == copies,
                    events::toString);
            // and no more: a binding that reports a duplicate it still delivers shows here
            Await.holdsFor(QUIET_WINDOW, "exactly " + copies + " cop(ies) delivered",
                    () -> events.of(m.id()).size() == copies && handled.count() == 1, events::toString);
            assertThat(handled.count()).as("handler runs").isEqualTo(1);
            assertThat(events.duplicates).hasSize((int) copies - 1).allMatch(m.id()::equals);
        }

        @Test
        @RequiresCapability(Capability.REDELIVERY)
        @DisplayName("a redelivery of a message that was processed but not acked (consumer died in between) is skipped")
        void redeliveryOfProcessedMessageIsSkipped() {
            PolicyEvents events = new PolicyEvents();
            AtomicBoolean died = new AtomicBoolean();
            // outermost: after the policy completed the key, the first delivery is given back instead of acked, as if the consumer died
            Interceptor dieBeforeAck = chain -> chain.proceed(chain.delivery()).thenApply(o ->
                    o.kind() == Outcome.Kind.ACK && died.compareAndSet(false, true) ? Outcome.nack(REDELIVERY_DELAY) : o);
            Courier courier = connect(events, dieBeforeAck,
                    Reliability.builder().idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
            String topic = topic("charges");
            Received handled = new Received();
            courier.subscribe(inGroup(topic, group("g")), handled);
            Message m = courier.publisher().message(topic, "charge o-1").build();
            join(courier.publisher().publish(m), "publish");

            await.until("the redelivery is acked", () -> events.of(m.id()).contains(Outcome.Kind.ACK), events::toString);
            assertThat(events.of(m.id())).containsExactly(Outcome.Kind.NACK, Outcome.Kind.ACK);
            assertThat(handled.count()).as("handler runs").isEqualTo(1);
            assertThat(events.duplicates).containsExactly(m.id());
        }

        /**
         * A consumer of the crash cases: a Courier of its own that closes at once even with a stuck
         * handler (its subscriptions use a zero drain timeout, its executor a short close timeout),
         * as close to a killed process as one JVM gets: its unsettled deliveries go back to the broker
         * and its idempotency claims are neither completed nor released.
         */
        private Courier crashableConsumer(CourierListener listener, Interceptor... interceptors) {
            Courier.Builder b = Courier.builder().listener(listener).config(CourierConfig.builder().withoutEnvironment()
                    .setAll(broker().config()).set(CourierConfig.CLOSE_TIMEOUT, "200ms").url(broker().url()).build());
            for (Interceptor i : interceptors) {
                b.interceptor(i);
            }
            return closeAfterCase(b.connect());
        }

        /** Idempotency shared by the consumers of a crash case: one store, a short lease, quick re-checks. */
        private Idempotency sharedIdempotency() {
            return Idempotency.with(new InMemoryIdempotencyStore()).lease(Duration.ofSeconds(2))
                    .inProgressRetryDelay(Duration.ofMillis(300));
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE, Capability.REDELIVERY})
        @DisplayName("a consumer that crashes mid-handler: another consumer of the group gets the redelivery and the work is done exactly once")
        void crashMidHandlerIsCompletedOnceElsewhere() {
            Idempotency idempotency = sharedIdempotency();
            PolicyEvents eventsA = new PolicyEvents();
            PolicyEvents eventsB = new PolicyEvents();
            Courier a = crashableConsumer(eventsA, Reliability.builder().idempotency(idempotency).build());
            Courier b = crashableConsumer(eventsB, Reliability.builder().idempotency(idempotency).build());
            String topic = topic("shipments");
            String group = group("g");
            AtomicInteger completed = new AtomicInteger();
            CountDownLatch startedOnA = new CountDownLatch(1);
            CountDownLatch stuck = new CountDownLatch(1);
            closeAfterCase(stuck::countDown); // frees A's thread after the case (closed before the Couriers)
            a.subscribe(inGroup(topic, group).drainTimeout(Duration.ZERO), d -> {
                startedOnA.countDown();
                // A is dead from here on: its thread ignores interrupts and never reaches the end of the work
                awaitUninterruptibly(stuck);
                throw new IllegalStateException("consumer A died mid-handler");
            });
            Message m = b.publisher().message(topic, "ship o-7").build();
            join(b.publisher().publish(m), "publish");
            await.until("consumer A starts handling the message", () -> startedOnA.getCount() == 0, eventsA::toString);

            a.close();
            b.subscribe(inGroup(topic, group), d -> completed.incrementAndGet()); // the work's last step

            await.until("consumer B completes the redelivered message", () -> eventsB.of(m.id()).contains(Outcome.Kind.ACK),
                    () -> "B: " + eventsB + ", completed " + completed.get());
            Await.holdsFor(QUIET_WINDOW, "the work stays done once", () -> completed.get() == 1, () -> "completed " + completed.get());
            assertThat(completed.get()).as("work completed").isEqualTo(1);
            assertThat(eventsA.of(m.id())).as("settlements on A, which died before settling").isEmpty();
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE, Capability.REDELIVERY})
        @DisplayName("a consumer that completed the work but closed before its ack reached the broker: the redelivery is skipped elsewhere")
        void completedButUnackedIsSkippedElsewhere() {
            Idempotency idempotency = sharedIdempotency();
            PolicyEvents eventsA = new PolicyEvents();
            PolicyEvents eventsB = new PolicyEvents();
            CountDownLatch ackHeld = new CountDownLatch(1);
            // outermost on A: once the policy completed the key, the ack is never handed to the broker
            Interceptor ackNeverSent = chain -> chain.proceed(chain.delivery()).thenCompose(o -> {
                if (o.kind() != Outcome.Kind.ACK) {
                    return CompletableFuture.completedFuture(o);
                }
                ackHeld.countDown();
                return new CompletableFuture<>();
            });
            Courier a = crashableConsumer(eventsA, ackNeverSent, Reliability.builder().idempotency(idempotency).build());
            Courier b = crashableConsumer(eventsB, Reliability.builder().idempotency(idempotency).build());
            String topic = topic("refunds");
            String group = group("g");
            AtomicInteger completed = new AtomicInteger();
            a.subscribe(inGroup(topic, group).drainTimeout(Duration.ZERO), d -> completed.incrementAndGet());
            Message m = b.publisher().message(topic, "refund o-8").build();
            join(b.publisher().publish(m), "publish");
            await.until("consumer A completed the work", () -> ackHeld.getCount() == 0 && completed.get() == 1,
                    () -> "completed " + completed.get());

            a.close();
            b.subscribe(inGroup(topic, group), d -> completed.incrementAndGet());

            await.until("consumer B acks the redelivery", () -> eventsB.of(m.id()).contains(Outcome.Kind.ACK), eventsB::toString);
            assertThat(completed.get()).as("work completed").isEqualTo(1);
            assertThat(eventsB.duplicates).as("duplicates skipped on B").isNotEmpty().allMatch(m.id()::equals);
            assertThat(eventsA.of(m.id())).as("settlements on A").isEmpty();
        }

        @Test
        @RequiresCapability(Capability.DEAD_LETTER)
        @DisplayName("an open circuit breaker pauses the subscription without dead-lettering; after recovery every message is handled")
        void breakerPausesAndResumes() {
            PolicyEvents events = new PolicyEvents();
            Courier courier = connect(events, Reliability.builder()
                    .retry(quick.attempts(10))
                    .circuitBreaker(CircuitBreakerPolicy.of(50, 4, 4, Duration.ofSeconds(1)))
                    .build());
            String topic = topic("downstream");
            Subscribe spec = inGroup(topic, group("g")).concurrency(4).ordering(Ordering.NONE);
            Received dlq = new Received();
            courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group(group("dlq-reader")), dlq);
            AtomicBoolean down = new AtomicBoolean(true);
            Set<String> handled = ConcurrentHashMap.newKeySet();
            Subscription sub = courier.subscribe(spec, d -> {
                if (down.get()) {
                    throw new IllegalStateException("downstream unavailable");
                }
                handled.add(d.message().id());
            });
            events.watched.set(sub);
            List<String> ids = publishTexts(courier.publisher(), topic, "m", 20);

            await.until("the breaker opens", () -> events.transitions.contains("OPEN"), events::toString);
            down.set(false);

            await.until("every message is handled", () -> handled.containsAll(ids), () -> handled.size() + " handled; " + events);
            await.until("the breaker closes and the subscription runs", () -> events.transitions.contains("CLOSED") && !sub.isPaused(),
                    events::toString);
            assertThat(events.pausedWhenOpened).as("subscription paused when the breaker opened").isNotEmpty().allMatch(p -> p);
            assertThat(events.deadLettered).as("dead-lettered").isEmpty();
            Await.holdsFor(QUIET_WINDOW, "no dead letters", () -> dlq.count() == 0, dlq::summary);
        }
    }

    @Nested
    @DisplayName("Subscription lifecycle")
    class Lifecycle {

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE})
        @DisplayName("consumers closed and reopened in batches while publishing goes on lose nothing")
        void reopeningConsumersLoseNothing() throws Exception {
            int total = 1000;
            String topic = topic("churn");
            String group = group("g");
            Settlements settlements = new Settlements();
            Courier consumers = connect(settlements);
            Courier producer = connect();
            Set<String> handled = ConcurrentHashMap.newKeySet();
            // the group exists before the first publish: brokers without LATE_GROUP_RECEIVES_EARLIER (RabbitMQ)
            // keep only what is published once a group's queue is bound
            consumers.subscribe(inGroup(topic, group), d -> handled.add(d.message().id())).close();
            ExecutorService pool = threads(1);
            Future<List<String>> publishing = pool.submit(() -> {
                List<String> ids = new ArrayList<>();
                for (int batch = 0; batch < 20; batch++) {
                    ids.addAll(publishTexts(producer.publisher(), topic, "b" + batch, total / 20));
                }
                return ids;
            });

            int rounds = 0;
            while (!publishing.isDone() || rounds < 3) {
                List<Subscription> open = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    open.add(consumers.subscribe(inGroup(topic, group).concurrency(2).maxInFlight(8), d -> handled.add(d.message().id())));
                }
                int seen = handled.size();
                await.until("the reopened consumers make progress", () -> handled.size() > seen || (publishing.isDone() && handled.size() >= total),
                        () -> handled.size() + " handled");
                open.forEach(Subscription::close);
                rounds++;
            }
            List<String> ids = publishing.get(await.timeout().toMillis(), TimeUnit.MILLISECONDS);
            consumers.subscribe(inGroup(topic, group), d -> handled.add(d.message().id()));
            await.until("all " + total + " messages are handled", () -> handled.containsAll(ids), () -> handled.size() + " handled");
            await.until("all " + total + " messages are acked", () -> settlements.acked() >= total, settlements::toString);
            assertThat(settlements.acked()).as("distinct acked messages").isEqualTo(total);
            assertThat(handled).containsExactlyInAnyOrderElementsOf(ids);
        }

        @Test
        @DisplayName("subscribing and closing from 8 threads at once neither deadlocks nor throws")
        void concurrentSubscribeAndClose() throws Exception {
            Courier courier = connect();
            String topic = topic("churn");
            AtomicBoolean publishing = new AtomicBoolean(true);
            ExecutorService pool = threads(9);
            Future<?> publisher = pool.submit(() -> {
                while (publishing.get()) {
                    courier.publisher().publish(topic, "tick");
                    Thread.sleep(1);
                }
                return null;
            });
            ConcurrentLinkedDeque<Subscription> open = new ConcurrentLinkedDeque<>();
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                workers.add(pool.submit(() -> {
                    for (int i = 0; i < 12; i++) {
                        Subscribe spec = (i + thread) % 2 == 0 ? inGroup(topic, group("g" + (i % 3))) : Subscribe.to(topic);
                        open.add(courier.subscribe(spec, d -> { }));
                        if (i % 2 == 1) {
                            Subscription s = open.pollFirst();
                            if (s != null) {
                                s.close(Duration.ofSeconds(10));
                            }
                        }
                    }
                    return null;
                }));
            }
            try {
                for (Future<?> w : workers) {
                    w.get(60, TimeUnit.SECONDS);
                }
            } catch (TimeoutException e) {
                fail("subscribe/close from 8 threads did not finish within 60 s: a deadlock?");
            } finally {
                publishing.set(false);
            }
            publisher.get(10, TimeUnit.SECONDS);
            for (Subscription s : open) {
                s.close();
                assertThat(s.isClosed()).isTrue();
            }

            Received after = new Received();
            courier.subscribe(inGroup(topic, group("after")), after);
            String id = join(courier.publisher().publish(topic, "still works"), "publish").messageId();
            await.until("a new subscription still receives", () -> after.contains(id), after::summary);
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE})
        @DisplayName("close waits for running handlers and acks nothing unprocessed: the rest goes to a later subscriber")
        void closeDrainsInFlightHandlers() {
            int total = 40;
            Courier courier = connect();
            String topic = topic("drain");
            String group = group("g");
            Set<String> started = ConcurrentHashMap.newKeySet();
            Set<String> completed = ConcurrentHashMap.newKeySet();
            AtomicInteger running = new AtomicInteger();
            Subscription first = courier.subscribe(inGroup(topic, group).concurrency(4).maxInFlight(8), d -> {
                started.add(d.message().id());
                running.incrementAndGet();
                try {
                    Thread.sleep(100); // simulated work that close() must let finish
                    completed.add(d.message().id());
                } finally {
                    running.decrementAndGet();
                }
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "d", total);
            await.until("4 handlers have started", () -> started.size() >= 4, started::size);

            first.close();
            assertThat(first.isClosed()).isTrue();
            assertThat(running.get()).as("handlers still running after close() returned").isZero();
            assertThat(completed).as("handlers that started completed before close() returned").containsAll(started);

            Set<String> later = ConcurrentHashMap.newKeySet();
            courier.subscribe(inGroup(topic, group), d -> later.add(d.message().id()));
            await.until("every message is handled to completion by one of the subscribers", () -> {
                Set<String> all = new HashSet<>(completed);
                all.addAll(later);
                return all.containsAll(ids);
            }, () -> completed.size() + " completed before close, " + later.size() + " after");
        }

        @Test
        @RequiresCapability({Capability.CONSUMER_GROUPS, Capability.AT_LEAST_ONCE})
        @DisplayName("close gives up on a handler that outlives the drain timeout, and its message is delivered again later")
        void closeGivesUpAfterTheDrainTimeout() throws Exception {
            Courier courier = connect();
            String topic = topic("stuck");
            String group = group("g");
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            closeAfterCase(release::countDown);
            Subscription stuck = courier.subscribe(inGroup(topic, group), d -> {
                started.countDown();
                release.await();
            });
            String id = join(courier.publisher().publish(topic, "stuck"), "publish").messageId();
            await.until("the handler has started", () -> started.getCount() == 0);

            CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> stuck.close(Duration.ofMillis(200)));
            join(closing, "close(200 ms) with a handler that does not finish");
            assertThat(stuck.isClosed()).isTrue();

            Received later = new Received();
            courier.subscribe(inGroup(topic, group), later);
            await.until("the message of the abandoned handler is delivered to the next subscriber", () -> later.contains(id), later::summary);
            release.countDown();
        }

        @Test
        @DisplayName("close() is idempotent on subscriptions and on the Courier")
        void closeIsIdempotent() {
            Courier courier = connect();
            Subscription s = courier.subscribe(inGroup(topic("idem"), group("g")), d -> { });
            s.close();
            s.close();
            assertThat(s.isClosed()).isTrue();
            courier.close();
            courier.close();
            assertThat(courier.isClosed()).isTrue();
        }
    }

    @Nested
    @DisplayName("Publisher lifecycle")
    class PublisherLifecycle {

        @Test
        @DisplayName("closing a publisher flushes what it accepted: every stage completed successfully, every message delivered")
        void publisherCloseFlushes() {
            int total = 500;
            Courier courier = connect();
            String topic = topic("flush");
            Received received = new Received();
            courier.subscribe(inGroup(topic, group("g")), received);
            Publisher publisher = courier.newPublisher();
            List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>();
            for (int i = 0; i < total; i++) {
                stages.add(publisher.publish(topic, "f-" + i).toCompletableFuture());
            }
            publisher.close();

            List<Integer> notDone = new ArrayList<>();
            List<Integer> failed = new ArrayList<>();
            for (int i = 0; i < total; i++) {
                CompletableFuture<PublishReceipt> s = stages.get(i);
                if (!s.isDone()) {
                    notDone.add(i);
                } else if (s.isCompletedExceptionally()) {
                    failed.add(i);
                }
            }
            assertThat(notDone).as("publishes still pending after close() returned").isEmpty();
            assertThat(failed).as("publishes that failed").isEmpty();
            assertThat(publisher.outstanding()).isZero();
            Set<String> ids = stages.stream().map(CompletableFuture::join).map(PublishReceipt::messageId).collect(Collectors.toSet());
            await.until("all " + total + " messages are delivered", () -> received.ids().containsAll(ids), received::summary);
        }

        @Test
        @DisplayName("publishing after close fails with ClosedException, for a publisher and for the whole Courier")
        void publishAfterCloseFails() {
            String topic = topic("closed");
            Courier courier = connect();
            Publisher own = courier.newPublisher();
            own.close();
            assertClosed(() -> own.publish(topic, "late"), "publish on a closed publisher");

            Publisher shared = courier.publisher();
            courier.close();
            assertClosed(() -> shared.publish(topic, "late"), "publish through the shared publisher of a closed Courier");
            assertThatThrownBy(courier::publisher).isInstanceOf(ClosedException.class);
            assertThatThrownBy(courier::newPublisher).isInstanceOf(ClosedException.class);
            assertThatThrownBy(() -> courier.subscribe(Subscribe.to(topic), d -> { })).isInstanceOf(ClosedException.class);
            assertThatThrownBy(courier::requester).isInstanceOf(ClosedException.class);
        }

        private void assertClosed(java.util.function.Supplier<CompletionStage<?>> publish, String what) {
            CompletionStage<?> stage;
            try {
                stage = publish.get();
            } catch (ClosedException e) {
                return; // refusing synchronously is fine too
            }
            assertThat(failureOf(stage, what)).as(what).isInstanceOf(ClosedException.class);
        }
    }

    @Nested
    @DisplayName("Asynchronous handlers")
    class AsyncHandlers {

        @Test
        @DisplayName("a stage that completes later acks the delivery")
        void laterCompletionAcks() {
            int total = 10;
            Settlements settlements = new Settlements();
            Courier courier = connect(settlements);
            String topic = topic("async");
            Received received = new Received();
            courier.subscribeAsync(inGroup(topic, group("g")).concurrency(4), d -> {
                received.record(d);
                return CompletableFuture.runAsync(() -> { },
                        CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "a", total);
            await.until("all are acked", () -> settlements.acked() >= total, settlements::toString);
            for (String id : ids) {
                assertThat(settlements.of(id)).as("outcomes of " + id).containsExactly(Outcome.Kind.ACK);
                assertThat(received.attempts(id)).as("attempts of " + id).containsExactly(1);
            }
        }

        @Test
        @RequiresCapability(Capability.REDELIVERY)
        @DisplayName("an async handler can nack and ack explicitly from another thread")
        void explicitSettlementFromAnotherThread() {
            int total = 5;
            Settlements settlements = new Settlements();
            Courier courier = connect(settlements);
            String topic = topic("explicit");
            Received received = new Received();
            ExecutorService other = threads(2);
            courier.subscribeAsync(inGroup(topic, group("g")).concurrency(4), d -> {
                received.record(d);
                other.execute(() -> {
                    if (d.attempt() == 1) {
                        d.nack(REDELIVERY_DELAY);
                    } else {
                        d.ack();
                    }
                });
                return null;
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "e", total);
            await.until("all are acked", () -> settlements.acked() >= total, settlements::toString);
            for (String id : ids) {
                assertThat(received.attempts(id)).as("attempts of " + id).containsExactly(1, 2);
                assertThat(settlements.of(id)).as("outcomes of " + id).containsExactly(Outcome.Kind.NACK, Outcome.Kind.ACK);
            }
        }

        @Test
        @RequiresCapability(Capability.REDELIVERY)
        @DisplayName("a stage that completes exceptionally redelivers the message")
        void failedStageRedelivers() {
            Courier courier = connect();
            String topic = topic("asyncfail");
            Received received = new Received();
            courier.subscribeAsync(inGroup(topic, group("g")).maxAttempts(5), d -> {
                received.record(d);
                return d.attempt() == 1 ? CompletableFuture.failedFuture(new IllegalStateException("not yet"))
                        : CompletableFuture.completedFuture(null);
            });
            List<String> ids = publishTexts(courier.publisher(), topic, "f", 3);
            await.until("each message is delivered twice", () -> ids.stream().allMatch(id -> received.attempts(id).size() >= 2),
                    received::summary);
            for (String id : ids) {
                assertThat(received.attempts(id)).as("attempts of " + id).containsExactly(1, 2);
            }
        }
    }

    @Nested
    @DisplayName("Binding")
    class BindingDeclaration {

        @Test
        @DisplayName("capabilities() is one of the capability sets its provider declares")
        void capabilitiesAreDeclared() {
            Courier courier = connect();
            Capabilities actual = courier.capabilities();
            String scheme = broker().url().substring(0, broker().url().indexOf("://")).toLowerCase(Locale.ROOT);
            BindingProvider provider = null;
            Iterator<BindingProvider> it = ServiceLoader.load(BindingProvider.class).iterator();
            while (provider == null && it.hasNext()) {
                try {
                    BindingProvider p = it.next();
                    if (p.schemes().contains(scheme)) {
                        provider = p;
                    }
                } catch (ServiceConfigurationError e) {
                    // another binding that cannot load; not the one under test
                }
            }
            assertThat(provider).as("a BindingProvider registered for " + scheme + "://").isNotNull();
            List<String> declared = provider.declaredCapabilities().stream().map(CourierContractSuite::describe).toList();
            assertThat(declared).as("declaredCapabilities() of " + provider.name()).contains(describe(actual));
        }
    }

    /** Capabilities has no equals(); compare what it declares. */
    static String describe(Capabilities c) {
        List<String> names = new ArrayList<>();
        for (Capability cap : c.all()) {
            names.add(cap.name());
        }
        Collections.sort(names);
        return c.binding() + " " + names + " maxPayload=" + c.maxPayloadBytes();
    }
}
