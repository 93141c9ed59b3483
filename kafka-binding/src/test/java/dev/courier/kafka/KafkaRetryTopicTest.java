package dev.courier.kafka;

import dev.courier.Capability;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.testkit.kafka.KafkaFixture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Nacks with a long delay travel through the retry topic {@code <topic>.<group>.retry}. */
class KafkaRetryTopicTest {

    static String url;
    static Admin admin;

    /** One delivery as the handler saw it. */
    record Seen(String text, int attempt, String fromTopic, long atNanos, String id) {
    }

    @BeforeAll
    static void start() {
        url = KafkaFixture.resolve();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url)));
    }

    @AfterAll
    static void stop() {
        admin.close();
    }

    static Courier connect(String threshold) {
        return Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.commit.interval", "100ms")
                .set(KafkaSettings.RETRY_TOPIC_THRESHOLD, threshold).build());
    }

    static String topic(String name) {
        return "kt." + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Sum of the committed offsets of {@code group} over {@code topic}'s partitions. */
    static long committed(String group, String topic) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        return m.entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                .mapToLong(e -> e.getValue().offset()).sum();
    }

    /** Records in {@code topic} (sum of end offsets). */
    static long records(String topic) throws Exception {
        int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic).partitions().size();
        Map<TopicPartition, OffsetSpec> q = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            q.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        return admin.listOffsets(q).all().get(10, TimeUnit.SECONDS).values().stream().mapToLong(i -> i.offset()).sum();
    }

    static Seen seen(dev.courier.Delivery d) {
        return new Seen(new String(d.message().payload(), StandardCharsets.UTF_8), d.attempt(),
                d.unwrap(ConsumerRecord.class).topic(), System.nanoTime(), d.message().id());
    }

    @Test
    @DisplayName("a nack at or above the threshold goes through the retry topic: the key and the commit move on, it comes back with attempt 2 after the delay")
    void longNackGoesThroughTheRetryTopic() throws Exception {
        Duration delay = Duration.ofSeconds(3);
        String topic = topic("retry");
        String group = "g-" + UUID.randomUUID();
        List<Seen> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(topic).group(group), d -> {
                Seen s = seen(d);
                seen.add(s);
                if (s.text().equals("first") && d.attempt() == 1) {
                    d.nack(delay);
                }
            });
            Message first = courier.publisher().message(topic, "first").key("k").header("x-trace", "t-1").build();
            courier.publisher().publish(first).toCompletableFuture().join();
            courier.publisher().publish(topic, "k", "second").toCompletableFuture().join();

            await(() -> seen.stream().anyMatch(s -> s.text().equals("second")), "the later record of the same key");
            await(() -> committedQuietly(group, topic) == 2, "the main topic's commit to pass both records");
            assertThat(seen).as("the retried record has not come back yet while the commit advanced")
                    .noneMatch(s -> s.text().equals("first") && s.attempt() == 2);

            await(() -> seen.stream().anyMatch(s -> s.text().equals("first") && s.attempt() == 2), "the retried record");
            Seen attempt1 = seen.stream().filter(s -> s.text().equals("first") && s.attempt() == 1).findFirst().orElseThrow();
            Seen attempt2 = seen.stream().filter(s -> s.text().equals("first") && s.attempt() == 2).findFirst().orElseThrow();
            Seen second = seen.stream().filter(s -> s.text().equals("second")).findFirst().orElseThrow();
            assertThat(attempt2.fromTopic()).isEqualTo(KafkaSettings.retryTopic(topic, group));
            assertThat(attempt2.atNanos() - attempt1.atNanos()).as("came back after the delay").isGreaterThanOrEqualTo(delay.toNanos());
            assertThat(second.atNanos()).as("the later record of the key did not wait for the retry").isLessThan(attempt2.atNanos());
            assertThat(attempt2.id()).isEqualTo(first.id());
            assertThat(records(KafkaSettings.retryTopic(topic, group))).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("a retry topic name over Courier's 200 characters (long topic and group, dead-letter topic of their own) is shortened with a hash, and works")
    void longRetryTopicNameIsShortened() throws Exception {
        String topic = topic("long") + "." + "t".repeat(150);
        String group = "g-" + UUID.randomUUID() + "-" + "g".repeat(120);
        String retry = KafkaSettings.retryTopic(topic, group);
        assertThat(retry).hasSizeLessThanOrEqualTo(KafkaSettings.MAX_TOPIC_NAME).endsWith(".retry")
                .startsWith(topic.substring(0, 100)).isEqualTo(KafkaSettings.retryTopic(topic, group))
                .isNotEqualTo(KafkaSettings.retryTopic(topic, group + "x"));
        List<Seen> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(topic).group(group).deadLetterTopic(topic("dlq")), d -> {
                seen.add(seen(d));
                if (d.attempt() == 1) {
                    d.nack(Duration.ofSeconds(1));
                }
            });
            courier.publisher().publish(topic, "k", "m").toCompletableFuture().join();
            await(() -> seen.size() >= 2, "the retried delivery");
            assertThat(seen.get(1).fromTopic()).isEqualTo(retry);
            assertThat(seen.get(1).attempt()).isEqualTo(2);
        }
    }

    @Test
    @DisplayName("the retried message reads as a message of the subscription's topic, with its headers and without the retry headers")
    void retriedMessageLooksLikeTheOriginal() throws Exception {
        String topic = topic("retry-msg");
        String group = "g-" + UUID.randomUUID();
        List<Message> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(topic).group(group), d -> {
                seen.add(d.message());
                if (d.attempt() == 1) {
                    d.nack(Duration.ofSeconds(1));
                }
            });
            Message original = courier.publisher().message(topic, "m").key("k").header("x-trace", "t-1").build();
            courier.publisher().publish(original).toCompletableFuture().join();
            await(() -> seen.size() >= 2, "the retried delivery");
            Message back = seen.get(1);
            assertThat(back.topic()).isEqualTo(topic);
            assertThat(back.id()).isEqualTo(original.id());
            assertThat(back.key()).isEqualTo("k");
            assertThat(back.header("x-trace")).isEqualTo("t-1");
            assertThat(back.header(HeaderNames.FIRST_FAILURE)).isNotBlank();
            assertThat(back.headers().contains(HeaderNames.RETRY_AT)).isFalse();
            assertThat(back.headers().contains(HeaderNames.ATTEMPT)).isFalse();
        }
    }

    @Test
    @DisplayName("a consumer restart while a record waits in the retry topic loses nothing: the next consumer gets it with attempt 2")
    void restartWhileWaitingLosesNothing() throws Exception {
        String topic = topic("retry-restart");
        String group = "g-" + UUID.randomUUID();
        List<Seen> before = new CopyOnWriteArrayList<>();
        String id;
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(topic).group(group), d -> {
                before.add(seen(d));
                d.nack(Duration.ofSeconds(4));
            });
            Message m = courier.publisher().message(topic, "waiting").key("k").build();
            id = m.id();
            courier.publisher().publish(m).toCompletableFuture().join();
            await(() -> committedQuietly(group, topic) == 1, "the original to be committed once copied to the retry topic");
            assertThat(recordsQuietly(KafkaSettings.retryTopic(topic, group))).isEqualTo(1);
        }
        assertThat(before).as("closed while the record waited").extracting(Seen::attempt).containsExactly(1);

        List<Seen> after = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(topic).group(group), d -> after.add(seen(d)));
            await(() -> !after.isEmpty(), "the waiting record after the restart");
            Seen s = after.get(0);
            assertThat(s.id()).isEqualTo(id);
            assertThat(s.text()).isEqualTo("waiting");
            assertThat(s.attempt()).isEqualTo(2);
            assertThat(s.fromTopic()).isEqualTo(KafkaSettings.retryTopic(topic, group));
            await(() -> committedQuietly(group, KafkaSettings.retryTopic(topic, group)) == 1, "the retry record to be committed");
        }
        assertThat(after).hasSize(1);
    }

    @Test
    @DisplayName("attempts count on across the two ways back: a record from the retry topic that is then redelivered in process comes with the next attempt, and is dead-lettered at maxAttempts")
    void attemptsCountOnAfterTheRetryTopic() throws Exception {
        String topic = topic("retry-attempts");
        String group = "g-" + UUID.randomUUID();
        String dlq = topic + ".dlq";
        List<Seen> seen = new CopyOnWriteArrayList<>();
        List<Message> dead = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(dlq).group("dlq-" + group), d -> dead.add(d.message()));
            courier.subscribe(Subscribe.to(topic).group(group).maxAttempts(4).redeliveryDelay(Duration.ofMillis(100))
                    .deadLetterTopic(dlq), d -> {
                seen.add(seen(d));
                if (d.attempt() == 1) {
                    d.nack(Duration.ofSeconds(1)); // at the threshold: through the retry topic
                    return;
                }
                throw new IllegalStateException("fails in process from attempt " + d.attempt());
            });
            courier.publisher().publish(topic, "k", "again").toCompletableFuture().join();
            await(() -> !dead.isEmpty(), "the dead letter after the last attempt");
            assertThat(seen).extracting(Seen::attempt).containsExactly(1, 2, 3, 4);
            assertThat(seen).extracting(Seen::fromTopic)
                    .containsExactly(topic, KafkaSettings.retryTopic(topic, group), KafkaSettings.retryTopic(topic, group),
                            KafkaSettings.retryTopic(topic, group));
            assertThat(dead.get(0).header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("4");
        }
    }

    @Test
    @DisplayName("a nack below the threshold stays in process and holds its key; with retry topics off the binding declares ORDERED_DELAYED_REDELIVERY")
    void belowTheThresholdStaysInProcess() throws Exception {
        String topic = topic("retry-below");
        String group = "g-" + UUID.randomUUID();
        List<Seen> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("10s")) {
            assertThat(courier.capabilities().supports(Capability.ORDERED_DELAYED_REDELIVERY)).isFalse();
            courier.subscribe(Subscribe.to(topic).group(group), d -> {
                seen.add(seen(d));
                if (d.attempt() == 1 && seen(d).text().equals("first")) {
                    d.nack(Duration.ofMillis(500));
                }
            });
            courier.publisher().publish(topic, "k", "first").toCompletableFuture().join();
            courier.publisher().publish(topic, "k", "second").toCompletableFuture().join();
            await(() -> seen.size() >= 3, "three deliveries");
            assertThat(seen).extracting(Seen::text).containsExactly("first", "first", "second");
            assertThat(seen).extracting(Seen::fromTopic).containsOnly(topic);
        }
        try (Courier off = connect("off")) {
            assertThat(off.capabilities().supports(Capability.ORDERED_DELAYED_REDELIVERY)).isTrue();
        }
    }

    @Test
    @DisplayName("retry topics are on by default at 30 s: a 30 s nack is copied to the retry topic, its key moves on, and the binding does not declare ORDERED_DELAYED_REDELIVERY")
    void onByDefault() throws Exception {
        String topic = topic("retry-default");
        String group = "g-" + UUID.randomUUID();
        List<Seen> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.commit.interval", "100ms").build())) {
            assertThat(courier.capabilities().supports(Capability.ORDERED_DELAYED_REDELIVERY)).isFalse();
            courier.subscribe(Subscribe.to(topic).group(group), d -> {
                seen.add(seen(d));
                if (d.attempt() == 1 && seen(d).text().equals("first")) {
                    d.nack(Duration.ofSeconds(30));
                }
            });
            courier.publisher().publish(topic, "k", "first").toCompletableFuture().join();
            courier.publisher().publish(topic, "k", "second").toCompletableFuture().join();
            String retryTopic = KafkaSettings.retryTopic(topic, group);
            await(() -> recordsQuietly(retryTopic) == 1, "the copy in " + retryTopic);
            await(() -> seen.size() >= 2, "the second record of the key");
            assertThat(seen).extracting(Seen::text).containsExactly("first", "second");
        }
    }

    static long committedQuietly(String group, String topic) {
        try {
            return committed(group, topic);
        } catch (Exception e) {
            return -1;
        }
    }

    static long recordsQuietly(String topic) {
        try {
            return records(topic);
        } catch (Exception e) {
            return -1;
        }
    }

    @Test
    @DisplayName("a message retried through the retry topic keeps its original timestamp (as an in-process redelivery does)")
    void retriedMessageKeepsItsTimestamp() throws Exception {
        String t = topic("retry-ts");
        String group = "g-" + UUID.randomUUID();
        List<Message> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect("1s")) {
            courier.subscribe(Subscribe.to(t).group(group), d -> {
                seen.add(d.message());
                if (d.attempt() == 1) {
                    d.nack(Duration.ofSeconds(2)); // at or above the threshold: through the retry topic
                }
            });
            Instant published = Instant.now().minusSeconds(3600).truncatedTo(ChronoUnit.MILLIS);
            Message original = courier.publisher().message(t, "m").key("k").timestamp(published).build();
            courier.publisher().publish(original).toCompletableFuture().get(30, TimeUnit.SECONDS);
            await(() -> seen.size() >= 2, "the retried delivery");
            assertThat(seen.get(0).timestamp()).as("first delivery").isEqualTo(published);
            assertThat(seen.get(1).timestamp()).as("the delivery from the retry topic").isEqualTo(published);
            assertThat(seen.get(1).headers().contains(KafkaSubscription.RETRY_TIMESTAMP)).isFalse();
        }
    }
}
