package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.kafka.KafkaFixture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** Request-reply (correlation ids, provisioning off, late replies, foreign records), keyless partitioning, bad settings (producer, consumer, SASL, URL), masked secrets, broadcast groups. */
class KafkaBindingEdgeTest {

    static String url;
    static Admin admin;

    @BeforeAll
    static void start() {
        url = KafkaFixture.resolve();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url)));
    }

    @AfterAll
    static void stop() {
        admin.close();
    }

    static CourierConfig.Builder config() {
        return CourierConfig.builder().withoutEnvironment().url(url).set("courier.kafka.commit.interval", "100ms");
    }

    static String topic(String name) {
        return "kt." + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    static boolean await(BooleanSupplier condition, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    static boolean topicExists(String topic) throws Exception {
        return admin.listTopics().names().get(10, TimeUnit.SECONDS).contains(topic);
    }

    @Test
    @DisplayName("two requests with the same correlation id both end (the first one does not hang forever)")
    void reusedCorrelationIdDoesNotHangTheFirstRequest() throws Exception {
        String t = topic("dup-corr");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        try (Courier courier = Courier.connect(config().build())) {
            Message request = Message.builder(t).header(HeaderNames.CORRELATION_ID, "same-" + UUID.randomUUID()).build();
            // nobody answers: both must end with a timeout (or the second be refused), none may stay open
            CompletableFuture<Message> first = courier.requester().request(request, Duration.ofSeconds(1)).toCompletableFuture();
            CompletableFuture<Message> second = courier.requester().request(request, Duration.ofSeconds(1)).toCompletableFuture();
            assertThat(await(() -> second.isDone(), 30)).as("second request ended").isTrue();
            assertThat(second).as("the second request, refused while the first waits").isCompletedExceptionally();
            assertThat(await(() -> first.isDone(), 30)).as("first request ended within 30 s of its 1 s timeout").isTrue();
        }
    }

    @Test
    @DisplayName("request-reply works with provisioning off (the private reply topic has a random name nobody can create beforehand)")
    void requestReplyWithProvisioningOff() throws Exception {
        String t = topic("rr-noprov");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        try (Courier courier = Courier.connect(config().set("courier.kafka.provisioning", "false").build())) {
            courier.respond(Subscribe.to(t).group("svc"), d -> "re:" + d.payload(String.class));
            Throwable failure = null;
            String reply = null;
            try {
                reply = courier.requester().request(t, "q", String.class, Duration.ofSeconds(20)).toCompletableFuture().get(40, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).as("request failure").isNull();
            assertThat(reply).isEqualTo("re:q");
        }
    }


    @Test
    @DisplayName("one malformed record in the reply topic does not stop the reply consumer for good")
    void malformedReplyRecordDoesNotStopReplies() throws Exception {
        String t = topic("rr-poison");
        AtomicReference<String> replyTopic = new AtomicReference<>();
        try (Courier courier = Courier.connect(config().build());
             KafkaProducer<String, byte[]> raw = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url),
                     ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                     ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()))) {
            courier.respond(Subscribe.to(t).group("svc"), d -> {
                replyTopic.set(d.message().header(HeaderNames.REPLY_TO));
                return "re:" + d.payload(String.class);
            });
            assertThat(courier.requester().request(t, "one", String.class, Duration.ofSeconds(20)).toCompletableFuture()
                    .get(30, TimeUnit.SECONDS)).isEqualTo("re:one");
            // a foreign (non-Courier) responder answers with a header Courier's Headers refuse (empty name)
            ProducerRecord<String, byte[]> odd = new ProducerRecord<>(replyTopic.get(), null, null, null, "x".getBytes(StandardCharsets.UTF_8),
                    List.of(new RecordHeader("", "v".getBytes(StandardCharsets.UTF_8)),
                            new RecordHeader(HeaderNames.CORRELATION_ID, "unknown".getBytes(StandardCharsets.UTF_8))));
            raw.send(odd).get(30, TimeUnit.SECONDS);
            Thread.sleep(1_000);
            Throwable failure = null;
            String reply = null;
            try {
                reply = courier.requester().request(t, "two", String.class, Duration.ofSeconds(10)).toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).as("request after the malformed record").isNull();
            assertThat(reply).isEqualTo("re:two");
        }
    }

    @Test
    @DisplayName("keyless messages are spread over partitions added to the topic after the first publish")
    void keylessMessagesReachAddedPartitions() throws Exception {
        String t = topic("rr-grow");
        admin.createTopics(List.of(new NewTopic(t, 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
        try (Courier courier = Courier.connect(config().set("courier.kafka.producer.metadata.max.age.ms", "500").build())) {
            courier.publisher().publish(t, null, "first").toCompletableFuture().get(30, TimeUnit.SECONDS);
            admin.createPartitions(Map.of(t, NewPartitions.increaseTo(4))).all().get(30, TimeUnit.SECONDS);
            Thread.sleep(5_000); // well past the producer's metadata max age
            for (int i = 0; i < 40; i++) {
                courier.publisher().publish(t, null, "m" + i).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            Map<TopicPartition, OffsetSpec> q = new HashMap<>();
            for (int p = 0; p < 4; p++) {
                q.put(new TopicPartition(t, p), OffsetSpec.latest());
            }
            Map<Integer, Long> ends = admin.listOffsets(q).all().get(10, TimeUnit.SECONDS).entrySet().stream()
                    .collect(Collectors.toMap(e -> e.getKey().partition(), e -> e.getValue().offset()));
            assertThat(ends.get(2) + ends.get(3)).as("records on the added partitions 2 and 3, ends %s", ends).isPositive();
        }
    }

    static Set<String> adminThreads(String clientId) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("kafka-admin-client-thread") && n.contains(clientId)).collect(Collectors.toSet());
    }

    @Test
    @DisplayName("a connect refused for a bad producer property is a ConfigurationException naming it, and leaves no admin client running")
    void badProducerPropertyDoesNotLeakTheAdminClient() throws Exception {
        String clientId = "edge-admin-" + UUID.randomUUID().toString().substring(0, 8);
        Throwable failure = catchThrowable(() -> Courier.connect(config().set("courier.kafka.producer.linger.ms", "soon")
                .set("courier.kafka.admin.client.id", clientId).build()).close());
        assertThat(failure).as("connect with linger.ms=soon").isInstanceOf(dev.courier.ConfigurationException.class);
        assertThat(failure.getMessage()).contains("linger.ms");
        Thread.sleep(2_000);
        assertThat(adminThreads(clientId)).as("admin client threads left running").isEmpty();
    }

    @Test
    @DisplayName("a SASL JAAS config passed as a URL query parameter does not show its password in the connect error")
    void jaasPasswordInUrlIsMaskedInTheConnectError() {
        String jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\" password=\"hunter2secret\";";
        String bad = "kafka://127.0.0.1:1?sasl.jaas.config=" + URLEncoder.encode(jaas, StandardCharsets.UTF_8).replace("+", "%20");
        Throwable failure = catchThrowable(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(bad)
                .set(CourierConfig.CONNECT_TIMEOUT, "2s").build()).close());
        assertThat(failure).as("connect to a closed port").isNotNull();
        assertThat(failure.getMessage()).doesNotContain("hunter2secret");
    }

    @Test
    @DisplayName("SASL turned on without a JAAS config fails connect with a ConfigurationException naming the problem")
    void saslWithoutJaasIsAConfigurationError() {
        Throwable failure = catchThrowable(() -> Courier.connect(config()
                .set("courier.kafka.common.security.protocol", "SASL_PLAINTEXT")
                .set("courier.kafka.common.sasl.mechanism", "PLAIN")
                .set(CourierConfig.CONNECT_TIMEOUT, "3s").build()).close());
        assertThat(failure).as("connect with SASL and no sasl.jaas.config").isInstanceOf(ConfigurationException.class);
        assertThat(failure.getMessage()).contains("JAAS");
    }

    @Test
    @DisplayName("a malformed sasl.jaas.config fails connect with a ConfigurationException that does not show the password")
    void malformedJaasIsAConfigurationError() {
        Throwable failure = catchThrowable(() -> Courier.connect(config()
                .set("courier.kafka.common.security.protocol", "SASL_PLAINTEXT")
                .set("courier.kafka.common.sasl.mechanism", "PLAIN")
                // "required" forgotten
                .set("courier.kafka.common.sasl.jaas.config",
                        "org.apache.kafka.common.security.plain.PlainLoginModule username=\"app\" password=\"hunter2secret\";")
                .set(CourierConfig.CONNECT_TIMEOUT, "3s").build()).close());
        assertThat(failure).as("connect with a malformed JAAS config").isInstanceOf(ConfigurationException.class);
        for (Throwable t = failure; t != null; t = t.getCause()) {
            assertThat(t.toString()).doesNotContain("hunter2secret");
        }
    }

    @Test
    @DisplayName("a URL without a host (kafka://) fails connect with a ConfigurationException, not a retriable BrokerUnavailableException")
    void urlWithoutHostIsAConfigurationError() {
        Throwable failure = catchThrowable(() -> Courier.connect(CourierConfig.builder().withoutEnvironment()
                .url("kafka://").set(CourierConfig.CONNECT_TIMEOUT, "3s").build()).close());
        assertThat(failure).isInstanceOf(ConfigurationException.class);
        assertThat(failure.getMessage()).contains("names no broker");
    }

    @Test
    @DisplayName("a consumer property the Kafka consumer refuses makes subscribe() fail with a ConfigurationException naming it")
    void badConsumerPropertyIsAConfigurationError() throws Exception {
        String t = topic("bad-consumer-prop");
        try (Courier courier = Courier.connect(config().set("courier.kafka.consumer.max.poll.records", "lots").build())) {
            Throwable failure = catchThrowable(() -> courier.subscribe(Subscribe.to(t).group("g"), d -> { }));
            assertThat(failure).as("subscribe with max.poll.records=lots").isInstanceOf(ConfigurationException.class);
            assertThat(failure.getMessage()).contains("max.poll.records");
        }
    }

    @Test
    @DisplayName("a reply sent after the requester closed does not re-create its deleted reply topic")
    void lateReplyDoesNotRecreateTheReplyTopic() throws Exception {
        lateReplyLeavesTheReplyTopicDeleted("rr-late", false);
    }

    @Test
    @DisplayName("a late reply to a requester that closed does not re-create its reply topic, also when the responder answered it before")
    void lateReplyAfterAnEarlierReplyDoesNotRecreateTheReplyTopic() throws Exception {
        lateReplyLeavesTheReplyTopicDeleted("rr-late2", true);
    }

    /** A request answered only after its requester timed out and closed; with {@code answeredBefore}, an earlier one answered at once. */
    private static void lateReplyLeavesTheReplyTopicDeleted(String name, boolean answeredBefore) throws Exception {
        String t = topic(name);
        AtomicReference<String> replyTopic = new AtomicReference<>();
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch requesterClosed = new CountDownLatch(1);
        CountDownLatch replied = new CountDownLatch(1);
        try (Courier responder = Courier.connect(config().build())) {
            responder.respond(Subscribe.to(t).group("svc"), d -> {
                replyTopic.set(d.message().header(HeaderNames.REPLY_TO));
                if (answeredBefore && calls.incrementAndGet() == 1) {
                    return "fast";
                }
                requesterClosed.await(60, TimeUnit.SECONDS);
                replied.countDown();
                return "late";
            });
            try (Courier requester = Courier.connect(config().build())) {
                if (answeredBefore) {
                    assertThat(requester.requester().request(t, "q1", String.class, Duration.ofSeconds(20))
                            .toCompletableFuture().get(30, TimeUnit.SECONDS)).isEqualTo("fast");
                }
                Throwable failure = catchThrowable(() -> requester.requester().request(t, "q", String.class, Duration.ofSeconds(2))
                        .toCompletableFuture().get(30, TimeUnit.SECONDS));
                assertThat(failure).hasCauseInstanceOf(RequestTimeoutException.class);
            }
            assertThat(replyTopic.get()).startsWith("courier.replies.");
            assertThat(await(() -> {
                try {
                    return !topicExists(replyTopic.get());
                } catch (Exception e) {
                    return false;
                }
            }, 30)).as("reply topic deleted by the requester's close").isTrue();
            requesterClosed.countDown();
            assertThat(replied.await(30, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(5_000); // the reply is sent when the handler returns
            assertThat(topicExists(replyTopic.get())).as("reply topic %s exists again after the late reply", replyTopic.get()).isFalse();
        }
    }

    @Test
    @DisplayName("a closed broadcast subscription leaves no consumer group behind")
    void broadcastGroupIsRemovedOnClose() throws Exception {
        broadcastLeavesNoGroup("bc", true);
    }

    @Test
    @DisplayName("a broadcast subscription closed by Courier.close() (not by its own close) leaves no consumer group behind")
    void broadcastGroupIsRemovedOnCourierClose() throws Exception {
        broadcastLeavesNoGroup("bc2", false);
    }

    /** A broadcast subscription that received a few messages, closed on its own ({@code closeSubscription}) or with its Courier. */
    private static void broadcastLeavesNoGroup(String name, boolean closeSubscription) throws Exception {
        String t = topic(name);
        Set<String> before = admin.listConsumerGroups().all().get(10, TimeUnit.SECONDS).stream()
                .map(g -> g.groupId()).collect(Collectors.toSet());
        try (Courier courier = Courier.connect(config().build())) {
            CountDownLatch got = new CountDownLatch(5);
            Subscription s = courier.subscribe(Subscribe.to(t), d -> got.countDown());
            for (int i = 0; i < 5; i++) {
                courier.publisher().publish(t, null, "m" + i).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            assertThat(got.await(30, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(1_000); // a commit interval or more
            if (closeSubscription) {
                s.close();
            }
        }
        Thread.sleep(3_000);
        Set<String> left = admin.listConsumerGroups().all().get(10, TimeUnit.SECONDS).stream()
                .map(g -> g.groupId()).filter(g -> g.startsWith("courier-broadcast-") && !before.contains(g)).collect(Collectors.toSet());
        assertThat(left).as("broadcast groups left on the broker").isEmpty();
    }
}
