package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NonRetryableException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** JetStream subjects, filters, deduplication and headers at the edges: operator streams, shared dead-letter topics, changed filters. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class NatsStreamEdgeTest {

    private static final String RUN = "se_" + UUID.randomUUID().toString().substring(0, 8);
    private static final NatsFixture BROKER = NatsFixture.jetStream();

    private final List<Courier> open = new ArrayList<>();

    @AfterEach
    void closeCouriers() {
        open.forEach(Courier::close);
    }

    @AfterAll
    static void deleteStreams() {
        NatsFixture.deleteStreams(BROKER.url(), "COURIER_" + RUN);
        NatsFixture.deleteStreams(BROKER.url(), "OPS_" + RUN);
    }

    private Courier connect(Map<String, String> extra) {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(BROKER.config()).setAll(extra).url(BROKER.url()).build();
        Courier c = Courier.connect(config);
        open.add(c);
        return c;
    }

    private static String topic(String name) {
        return RUN + "." + name + "." + UUID.randomUUID().toString().substring(0, 6);
    }

    /** Waits up to {@code seconds}; returns quietly so the assertion after it shows actual vs expected. */
    private static void awaitQuietly(int seconds, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        Thread.sleep(300);
    }

    @Test
    @DisplayName("key-subject topic on an operator's stream over <topic> and <topic>.>: a group receives keyless messages too")
    void keylessMessagesReachAGroupOnAnOperatorStream() throws Exception {
        String topic = topic("orders");
        try (Connection c = Nats.connect(BROKER.url())) {
            // the stream docs/bindings/nats.md describes for a key-subject topic, created by an operator
            c.jetStreamManagement().addStream(StreamConfiguration.builder().name("OPS_" + RUN + "_" + UUID.randomUUID().toString().substring(0, 6))
                    .subjects(topic, topic + ".>").storageType(StorageType.Memory).build());
        }
        Courier courier = connect(Map.of(NatsSettings.KEY_SUBJECT_TOPICS, topic));
        List<String> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("g").deadLetterTopic("dlq." + topic), d -> got.add(d.payload(String.class)));
        courier.publisher().publish(topic, "k-1", "keyed").toCompletableFuture().get(10, TimeUnit.SECONDS);
        courier.publisher().publish(topic, "keyless").toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitQuietly(10, () -> got.size() >= 2);
        assertThat(got).as("payloads the group received").containsExactlyInAnyOrder("keyed", "keyless");
    }

    @Test
    @DisplayName("two groups dead-lettering the same message to one dead-letter topic: each group's dead letter is stored")
    void eachGroupsDeadLetterIsStored() throws Exception {
        String topic = topic("poison");
        String dlq = topic("dlq");
        Courier courier = connect(Map.of());
        List<String> deadFromGroups = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(dlq).group("reader"), d -> deadFromGroups.add(d.message().header(HeaderNames.DLQ_ORIGINAL_GROUP)));
        for (String g : List.of("g1", "g2")) {
            courier.subscribe(Subscribe.to(topic).group(g).deadLetterTopic(dlq), d -> {
                throw new NonRetryableException("poison for " + g);
            });
        }
        courier.publisher().publish(topic, "bad").toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitQuietly(10, () -> deadFromGroups.size() >= 2);
        // both originals are terminated once their dead-letter publish is confirmed, so a dead letter missing here is lost
        assertThat(deadFromGroups).as("original group of each dead letter in " + dlq).containsExactlyInAnyOrder("g1", "g2");
    }

    @Test
    @DisplayName("a group that subscribes again without its former subject filter receives every key, not only the old filter's")
    void changedSubjectFilterOfAGroupApplies() throws Exception {
        String topic = topic("orders");
        Courier courier = connect(Map.of(NatsSettings.KEY_SUBJECT_TOPICS, topic));
        Subscription euOnly = courier.subscribe(Subscribe.to(topic).group("billing").deadLetterTopic("dlq." + topic)
                .with(NatsSubscribeOptions.subjectFilter(topic + ".*.eu")), d -> { });
        euOnly.close();
        List<String> keys = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("billing").deadLetterTopic("dlq." + topic), d -> keys.add(d.message().key()));
        for (String key : List.of("o-1.eu", "o-2.us")) {
            courier.publisher().publish(topic, key, "x").toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        // nats-server 2.9 wakes a waiting pull for the new filter only at its next pull request: give it 30 s
        awaitQuietly(30, () -> keys.size() >= 2);
        assertThat(keys).as("keys the unfiltered group received").containsExactlyInAnyOrder("o-1.eu", "o-2.us");
    }

    @Test
    @DisplayName("a received message carries exactly the application headers its publisher set")
    void noJetStreamControlHeaderLeaksIntoTheMessage() throws Exception {
        String topic = topic("hdr");
        Courier courier = connect(Map.of());
        List<Message> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("g"), d -> got.add(d.message()));
        courier.publisher().publish(courier.publisher().message(topic, "x").header("x-trace", "t-1").build())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitQuietly(10, () -> !got.isEmpty());
        assertThat(got).hasSize(1);
        assertThat(got.get(0).headers().asMap()).as("headers received").isEqualTo(Map.of("x-trace", "t-1"));
    }

    @Test
    @DisplayName("groups whose names have dots (valid for Courier, not for a durable consumer) consume a JetStream topic, apart from the same name with underscores")
    void groupsWithDotsConsume() throws Exception {
        Courier courier = connect(Map.of());
        String topic = topic("dotgroup");
        List<String> dotted = new CopyOnWriteArrayList<>();
        List<String> underscored = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("eu.billing"), d -> dotted.add(d.payload(String.class)));
        courier.subscribe(Subscribe.to(topic).group("eu_billing"), d -> underscored.add(d.payload(String.class)));
        courier.publisher().publish(topic, "hello").toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitQuietly(30, () -> dotted.size() >= 1 && underscored.size() >= 1);
        assertThat(dotted).as("group eu.billing").containsExactly("hello");
        assertThat(underscored).as("group eu_billing, a group of its own").containsExactly("hello");
        assertThat(NatsBinding.durableName("billing")).as("a group without dots keeps its name").isEqualTo("billing");
    }

    @Test
    @DisplayName("a topic whose stream was deleted (or a memory stream lost in a server restart) is provisioned again on a later publish")
    void publishReprovisionsAStreamDeletedBehindItsBack() throws Exception {
        Courier courier = connect(Map.of());
        String topic = topic("gone");
        courier.publisher().publish(topic, "first").toCompletableFuture().get(10, TimeUnit.SECONDS);
        try (Connection nc = Nats.connect(BROKER.url())) {
            JetStreamManagement jsm = nc.jetStreamManagement();
            jsm.deleteStream(jsm.getStreamNames(topic).get(0));
        }
        List<Throwable> failures = new ArrayList<>();
        PublishReceipt receipt = null;
        for (int i = 0; i < 4 && receipt == null; i++) {
            try {
                receipt = courier.publisher().publish(topic, "again-" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failures.add(e.getCause()); // the first may fail: it is what tells the binding the stream is gone
            }
        }
        assertThat(receipt).as("a publish succeeded within 4 attempts; failures: " + failures).isNotNull();
        assertThat(failures).as("publishes that failed before the stream was created again").hasSizeLessThanOrEqualTo(1);
    }

    @Test
    @DisplayName("stream.max-age shorter than the default duplicate window (2m) still provisions the topic's stream")
    void shortMaxAgeWithTheDefaultDuplicateWindowProvisions() throws Exception {
        Courier courier = connect(Map.of(NatsSettings.STREAM_MAX_AGE, "1m"));
        String topic = topic("age");
        PublishReceipt r = courier.publisher().publish(topic, "x").toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(r.duplicate()).isFalse();
        try (Connection nc = Nats.connect(BROKER.url())) {
            JetStreamManagement jsm = nc.jetStreamManagement();
            StreamConfiguration sc = jsm.getStreamInfo(jsm.getStreamNames(topic).get(0)).getConfiguration();
            assertThat(sc.getDuplicateWindow()).as("duplicate window of the stream").isEqualTo(java.time.Duration.ofMinutes(1));
        }
    }

    private static String operatorStream(String root) throws Exception {
        String name = "OPS_" + root;
        try (Connection nc = Nats.connect(BROKER.url())) {
            nc.jetStreamManagement().addStream(StreamConfiguration.builder().name(name)
                    .subjects(root + ".>").storageType(StorageType.Memory).build());
        }
        return name;
    }

    @Test
    @DisplayName("the same group on two topics of one operator stream ('x.eu_west' and 'x.eu.west') gets two consumers, not one shared")
    void groupsOfTwoTopicsOnOneOperatorStreamStayApart() throws Exception {
        String root = RUN + "_ops" + UUID.randomUUID().toString().substring(0, 4);
        operatorStream(root);
        Courier courier = connect(Map.of());
        String underscored = root + ".eu_west";
        String dotted = root + ".eu.west";
        List<String> gotUnderscored = new CopyOnWriteArrayList<>();
        List<String> gotDotted = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(underscored).group("billing"), d -> gotUnderscored.add(d.payload(String.class)));
        courier.subscribe(Subscribe.to(dotted).group("billing"), d -> gotDotted.add(d.payload(String.class)));
        courier.publisher().publish(underscored, "for-eu_west").toCompletableFuture().get(10, TimeUnit.SECONDS);
        courier.publisher().publish(dotted, "for-eu.west").toCompletableFuture().get(10, TimeUnit.SECONDS);
        // nats-server 2.9 applies a changed filter at the next pull request (about 15 s)
        awaitQuietly(30, () -> gotUnderscored.contains("for-eu_west") && gotDotted.contains("for-eu.west"));
        assertThat(gotUnderscored).as("received on " + underscored).containsExactly("for-eu_west");
        assertThat(gotDotted).as("received on " + dotted).containsExactly("for-eu.west");
    }

    @Test
    @DisplayName("durable names on a shared stream: unchanged where group and topic have no underscores, told apart by a hash where they do")
    void sharedStreamDurableNames() {
        assertThat(NatsBinding.durableName("billing", "x.eu.west")).isEqualTo("billing_x_eu_west");
        assertThat(NatsBinding.durableName("billing", "x.eu_west")).startsWith("billing_x_eu_west_")
                .isNotEqualTo(NatsBinding.durableName("billing", "x.eu.west"));
        assertThat(NatsBinding.durableName("g_orders", "orders.x")).isNotEqualTo(NatsBinding.durableName("g", "orders.orders.x"));
        assertThat(NatsBinding.durableName("eu.billing", "x")).isNotEqualTo(NatsBinding.durableName("eu_billing", "x"));
    }

    @Test
    @DisplayName("a group's durable under the name it had before the hash was added keeps serving its topic")
    void durableNamedBeforeTheHashIsKept() throws Exception {
        String root = RUN + "_ops" + UUID.randomUUID().toString().substring(0, 4);
        String stream = operatorStream(root);
        String topic = root + ".eu_west";
        String legacy = "billing_" + topic.replace('.', '_');
        try (Connection nc = Nats.connect(BROKER.url())) {
            nc.jetStreamManagement().addOrUpdateConsumer(stream, ConsumerConfiguration.builder().durable(legacy)
                    .filterSubject(topic).ackPolicy(AckPolicy.Explicit).deliverPolicy(DeliverPolicy.New).build());
        }
        Courier courier = connect(Map.of());
        List<String> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(topic).group("billing"), d -> got.add(d.payload(String.class)));
        courier.publisher().publish(topic, "x").toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitQuietly(10, () -> !got.isEmpty());
        assertThat(got).containsExactly("x");
        try (Connection nc = Nats.connect(BROKER.url())) {
            assertThat(nc.jetStreamManagement().getConsumerNames(stream)).as("consumers of " + stream).containsExactly(legacy);
        }
    }

    @Test
    @DisplayName("a durable of the group's name that reads another topic is refused, not moved to this topic")
    void durableOfAnotherTopicIsNotMoved() throws Exception {
        String root = RUN + "_ops" + UUID.randomUUID().toString().substring(0, 4);
        String stream = operatorStream(root);
        String topic = root + ".eu.west";
        String name = NatsBinding.durableName("billing", topic);
        try (Connection nc = Nats.connect(BROKER.url())) {
            // e.g. left by an older version, which gave 'x.eu_west' the same name
            nc.jetStreamManagement().addOrUpdateConsumer(stream, ConsumerConfiguration.builder().durable(name)
                    .filterSubject(root + ".eu_west").ackPolicy(AckPolicy.Explicit).build());
        }
        Courier courier = connect(Map.of());
        assertThatThrownBy(() -> courier.subscribe(Subscribe.to(topic).group("billing"), d -> { }))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(name)
                .hasMessageContaining(root + ".eu_west");
        try (Connection nc = Nats.connect(BROKER.url())) {
            assertThat(nc.jetStreamManagement().getConsumerInfo(stream, name).getConsumerConfiguration().getFilterSubjects())
                    .as("filter of the other topic's consumer").containsExactly(root + ".eu_west");
        }
    }
}
