package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishException;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.kafka.EmbeddedKafka;
import dev.courier.testkit.kafka.KafkaFixture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Start positions (LATEST while partitions move or are added, a sequence or time beyond the end, also when the group starts again), a publish that timed out waiting for its topic, revoke and close with a delayed redelivery pending. */
class KafkaStartAndCloseTest {

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

    static Courier connect(String url) {
        return Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.commit.interval", "100ms").build());
    }

    static String topic(String name) {
        return "kt." + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    static void await(BooleanSupplier condition, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    /** A key the default partitioner puts on {@code partition} of {@code partitions}. */
    static String keyFor(int partition, int partitions) {
        for (int i = 0; ; i++) {
            String k = "k" + i;
            if (Utils.toPositive(Utils.murmur2(k.getBytes(StandardCharsets.UTF_8))) % partitions == partition) {
                return k;
            }
        }
    }

    @Test
    @DisplayName("a sequence start beyond a partition's end delivers none of the records before that sequence (as the in-memory binding: it starts at the end)")
    void sequenceBeyondTheEndDoesNotReplayFromTheStart() throws Exception {
        String t = topic("seq-beyond");
        try (Courier courier = connect(url)) {
            for (int p = 0; p < 3; p++) {
                courier.publisher().publish(t, keyFor(p, 3), "old-" + p).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            List<String> seen = new CopyOnWriteArrayList<>();
            courier.subscribe(Subscribe.to(t).group("g-" + UUID.randomUUID()).startFrom(StartPosition.sequence(100)),
                    d -> seen.add(d.payload(String.class) + "@" + d.metadata().position()));
            Thread.sleep(3_000);
            assertThat(seen).as("records at offset 0, far below the requested sequence 100").isEmpty();
        }
    }

    @Test
    @DisplayName("a group that started at a sequence beyond the end and stopped before committing anything continues where it started, not at the end then")
    void sequenceBeyondTheEndIsWhereARestartedGroupContinues() throws Exception {
        restartedGroupContinuesAtItsStart("seq-restart", StartPosition.sequence(100));
    }

    @Test
    @DisplayName("a group that started at a time no record is that new yet and stopped before committing anything continues where it started, not at the end then")
    void timeBeyondTheNewestRecordIsWhereARestartedGroupContinues() throws Exception {
        restartedGroupContinuesAtItsStart("time-restart", StartPosition.at(java.time.Instant.now().plus(Duration.ofHours(1))));
    }

    /**
     * A group starting at {@code start}, beyond the end of every partition, stops before anything reached it; the records
     * published before it subscribes again (with the same start) reach it then, and none from before the first start.
     */
    private void restartedGroupContinuesAtItsStart(String name, StartPosition start) throws Exception {
        String t = topic(name);
        admin.createTopics(List.of(new NewTopic(t, 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
        String group = "g-" + UUID.randomUUID();
        List<String> seen = new CopyOnWriteArrayList<>();
        try (Courier courier = connect(url)) {
            for (int p = 0; p < 3; p++) {
                courier.publisher().publish(t, keyFor(p, 3), "old-" + p).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            // closed before a record arrives, so it commits no record, only the start it resolved for each partition; the
            // consumer protocol may hand the member its partitions in steps, after subscribe() returned: wait for all three
            Subscription first = courier.subscribe(Subscribe.to(t).group(group).startFrom(start), d -> seen.add(d.payload(String.class)));
            await(() -> committedPartitions(group) == 3, 20);
            first.close();
            List<String> between = new ArrayList<>();
            for (int p = 0; p < 3; p++) {
                courier.publisher().publish(t, keyFor(p, 3), "between-" + p).toCompletableFuture().get(30, TimeUnit.SECONDS);
                between.add("between-" + p);
            }
            courier.subscribe(Subscribe.to(t).group(group).startFrom(start), d -> seen.add(d.payload(String.class)));
            await(() -> seen.containsAll(between), 20);
            assertThat(seen).as("records the group received after it subscribed again").containsExactlyInAnyOrderElementsOf(between);
        }
    }

    /** How many partitions {@code group} has committed offsets for (0 while the broker does not answer). */
    private int committedPartitions(String group) {
        try {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS).size();
        } catch (Exception e) {
            return 0;
        }
    }

    @Test
    @DisplayName("a LATEST group loses no message published after both members subscribed, also while partitions move from one member to the other")
    void latestGroupLosesNothingWhilePartitionsMove() throws Exception {
        String t = topic("latest-move");
        int partitions = 6;
        admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        String group = "g-" + UUID.randomUUID();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        List<String> published = new CopyOnWriteArrayList<>();
        List<String> inTransit = new ArrayList<>();
        try (Courier a = connect(url); Courier b = connect(url)) {
            a.subscribe(Subscribe.to(t).group(group).startFrom(StartPosition.latest()), d -> seen.add(d.payload(String.class)));
            b.subscribe(Subscribe.to(t).group(group).startFrom(StartPosition.latest()), d -> seen.add(d.payload(String.class)));
            // both subscribed: from here on every message must reach the group. Publish one message to each partition
            // at the moment the group shows it owned by neither member (revoked by A, not yet assigned to B).
            Set<Integer> done = new HashSet<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(group)).all().get(10, TimeUnit.SECONDS).get(group);
                Set<Integer> owned = new HashSet<>();
                int withPartitions = 0;
                for (MemberDescription m : g.members()) {
                    boolean any = false;
                    for (TopicPartition tp : m.assignment().topicPartitions()) {
                        if (tp.topic().equals(t)) {
                            owned.add(tp.partition());
                            any = true;
                        }
                    }
                    withPartitions += any ? 1 : 0;
                }
                for (int p = 0; p < partitions; p++) {
                    if (!owned.contains(p) && done.add(p)) {
                        String text = "transit-" + p;
                        a.publisher().publish(t, keyFor(p, partitions), text).toCompletableFuture().get(30, TimeUnit.SECONDS);
                        published.add(text);
                        inTransit.add(text);
                    }
                }
                if (withPartitions == 2 && owned.size() == partitions) {
                    break;
                }
                Thread.sleep(10);
            }
            for (int p = 0; p < partitions; p++) {
                String text = "after-" + p;
                a.publisher().publish(t, keyFor(p, partitions), text).toCompletableFuture().get(30, TimeUnit.SECONDS);
                published.add(text);
            }
            await(() -> seen.containsAll(published), 20);
            assertThat(inTransit).as("messages published while their partition moved").isNotEmpty();
            assertThat(seen).as("messages the group received").containsAll(published);
        }
    }

    @Test
    @DisplayName("a new LATEST group receives exactly the messages published right after subscribe() returned, also when the member gets its partitions in steps and the messages were built before")
    void newLatestGroupReceivesWhatIsPublishedRightAfterSubscribe() throws Exception {
        newGroupReceivesWhatIsPublishedRightAfterSubscribe("latest-new", StartPosition.latest());
    }

    @Test
    @DisplayName("a new group starting at a sequence beyond the end receives exactly the messages published right after subscribe() returned, also when the member gets its partitions in steps")
    void newGroupAtASequenceBeyondTheEndReceivesWhatIsPublishedRightAfterSubscribe() throws Exception {
        newGroupReceivesWhatIsPublishedRightAfterSubscribe("seq-new", StartPosition.sequence(1_000));
    }

    @Test
    @DisplayName("a new group starting at a time no record is that new yet receives exactly the messages published right after subscribe() returned, also when the member gets its partitions in steps")
    void newGroupAtATimeBeyondTheNewestRecordReceivesWhatIsPublishedRightAfterSubscribe() throws Exception {
        newGroupReceivesWhatIsPublishedRightAfterSubscribe("time-new", StartPosition.at(java.time.Instant.now().plus(Duration.ofHours(1))));
    }

    /**
     * Subscribes a new group at {@code start} (at or beyond the end of every partition) to a new topic of several partitions
     * and publishes one record to each partition as soon as subscribe() returned; those must arrive, and nothing else. Several rounds,
     * since the member may get its partitions in steps after subscribe() returned, or not. The records are stamped before
     * subscribe() was called, as a message built earlier (or by a producer whose clock is behind) is.
     */
    private void newGroupReceivesWhatIsPublishedRightAfterSubscribe(String name, StartPosition start) throws Exception {
        int partitions = 8;
        Map<Integer, String> wrongByRound = new HashMap<>();
        try (Courier courier = connect(url); KafkaProducer<String, byte[]> producer = rawProducer()) {
            for (int round = 0; round < 5; round++) {
                String t = topic(name);
                admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
                producer.send(new ProducerRecord<>(t, 0, "k", "old".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
                Set<String> seen = ConcurrentHashMap.newKeySet();
                long built = System.currentTimeMillis();
                Subscription sub = courier.subscribe(Subscribe.to(t).group("g-" + UUID.randomUUID()).startFrom(start),
                        d -> seen.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
                // subscribe() returned: from here on every message must reach the group
                List<CompletableFuture<?>> sent = new ArrayList<>();
                Set<String> published = new HashSet<>();
                for (int p = 0; p < partitions; p++) {
                    String text = "r" + round + "-p" + p;
                    sent.add(toFuture(producer.send(new ProducerRecord<>(t, p, built, "k", text.getBytes(StandardCharsets.UTF_8)))));
                    published.add(text);
                }
                CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
                await(() -> seen.containsAll(published), 20);
                Set<String> missed = new HashSet<>(published);
                missed.removeAll(seen);
                Set<String> unexpected = new HashSet<>(seen);
                unexpected.removeAll(published);
                if (!missed.isEmpty() || !unexpected.isEmpty()) {
                    wrongByRound.put(round, "missed " + missed + ", from before the start " + unexpected);
                }
                sub.close();
            }
        }
        assertThat(wrongByRound).as("rounds in which the group did not receive exactly what was published after subscribe() returned").isEmpty();
    }

    @Test
    @DisplayName("a member joining a LATEST group that has started does not move the group's start: messages published before it joined that the group has not finished reach it with the partitions it takes over")
    void joiningMemberDoesNotMoveTheGroupsStart() throws Exception {
        String t = topic("latest-join");
        int partitions = 4;
        admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        String group = "g-" + UUID.randomUUID();
        CountDownLatch release = new CountDownLatch(1);
        Set<String> atB = ConcurrentHashMap.newKeySet();
        // A holds every record unfinished, and a revocation gives them up after 1 s: the partitions B takes over are read
        // from the offset the group committed, which is its start unless B's joining moved it
        try (Courier a = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                     .set("courier.kafka.commit.interval", "100ms").set("courier.kafka.revoke.timeout", "1s").build());
             Courier b = connect(url); KafkaProducer<String, byte[]> producer = rawProducer()) {
            try {
                a.subscribe(Subscribe.to(t).group(group).startFrom(StartPosition.latest()), d -> {
                    try {
                        release.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    d.nack();
                });
                for (int p = 0; p < partitions; p++) {
                    producer.send(new ProducerRecord<>(t, p, "k", ("before-join-" + p).getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
                }
                b.subscribe(Subscribe.to(t).group(group).startFrom(StartPosition.latest()),
                        d -> atB.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
                await(() -> !atB.isEmpty(), 30);
                assertThat(atB).as("messages published before B joined, received by B with the partitions it took over").isNotEmpty()
                        .allMatch(m -> m.startsWith("before-join-"));
            } finally {
                release.countDown();
            }
        }
    }

    private static CompletableFuture<Object> toFuture(java.util.concurrent.Future<?> f) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return f.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    @Test
    @DisplayName("a broadcast subscription (starts at latest) receives messages published after it started to partitions added later")
    void broadcastReadsPartitionsAddedLater() throws Exception {
        String t = topic("bc-grow");
        addedPartitionsAreRead(t, Subscribe.to(t));
    }

    @Test
    @DisplayName("a LATEST group receives messages published after it started to partitions added later")
    void latestGroupReadsPartitionsAddedLater() throws Exception {
        String t = topic("latest-grow");
        addedPartitionsAreRead(t, Subscribe.to(t).group("g-" + UUID.randomUUID()).startFrom(StartPosition.latest()));
    }

    /** Subscribes with {@code spec}, grows the topic from 1 to 3 partitions and publishes one record to each new partition at once. */
    private static void addedPartitionsAreRead(String t, Subscribe spec) throws Exception {
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        Set<String> seen = ConcurrentHashMap.newKeySet();
        try (Courier courier = connect(url); KafkaProducer<String, byte[]> producer = rawProducer()) {
            courier.subscribe(spec, d -> seen.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
            producer.send(new ProducerRecord<>(t, 0, "k", "before-growth".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
            // the subscription has started: from here on every message must reach it, on any partition
            admin.createPartitions(Map.of(t, NewPartitions.increaseTo(3))).all().get(30, TimeUnit.SECONDS);
            for (int p = 1; p < 3; p++) {
                producer.send(new ProducerRecord<>(t, p, "k", ("new-partition-" + p).getBytes(StandardCharsets.UTF_8)))
                        .get(30, TimeUnit.SECONDS);
            }
            await(() -> seen.size() >= 3, 20);
            // probes, once the member surely owns the new partitions: these arrive, so the earlier ones were skipped, not unread
            for (int p = 1; p < 3; p++) {
                producer.send(new ProducerRecord<>(t, p, "k", ("probe-" + p).getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
            }
            await(() -> seen.contains("probe-1") && seen.contains("probe-2"), 20);
            assertThat(seen).as("probes published 20 s after the growth").contains("probe-1", "probe-2");
            seen.remove("probe-1");
            seen.remove("probe-2");
            assertThat(seen).as("messages published after subscribe() returned, two of them on partitions added meanwhile")
                    .containsExactlyInAnyOrder("before-growth", "new-partition-1", "new-partition-2");
        }
    }

    static KafkaProducer<String, byte[]> rawProducer() {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
    }

    @Test
    @DisplayName("a publish that failed because its topic was not ready within the publish timeout is not stored later when the topic becomes ready")
    void failedPublishWaitingForItsTopicIsNotSentLater() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(1).build().start();
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(kafka.url())
                     .set(CourierConfig.PUBLISH_TIMEOUT, "3s").set(CourierConfig.CLOSE_TIMEOUT, "1s").build());
             Admin own = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            String topic = "notready." + UUID.randomUUID().toString().substring(0, 8);
            kafka.stop();
            CompletableFuture<?> publish = courier.publisher().publish(topic, "k", "reported as not published").toCompletableFuture();
            Throwable failure = null;
            try {
                publish.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).isInstanceOf(PublishException.class).hasMessageContaining("was not published");
            kafka.start(); // back within the admin client's retries: the topic is created
            Thread.sleep(8_000);
            long stored = 0;
            try {
                int n = own.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic).partitions().size();
                Map<TopicPartition, OffsetSpec> q = new HashMap<>();
                for (int p = 0; p < n; p++) {
                    q.put(new TopicPartition(topic, p), OffsetSpec.latest());
                }
                stored = own.listOffsets(q).all().get(10, TimeUnit.SECONDS).values().stream().mapToLong(i -> i.offset()).sum();
            } catch (ExecutionException e) {
                // no such topic: nothing stored
            }
            assertThat(stored).as("records stored of a publish reported as 'not published'").isZero();
        }
    }

    @Test
    @DisplayName("a revoked partition gives its records waiting for an in-process redelivery to the next owner at once instead of holding the rebalance for their delay")
    void revokeDoesNotWaitForAPendingRedelivery() throws Exception {
        String t = topic("revoke-nacked");
        int partitions = 2;
        admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        String group = "g-" + UUID.randomUUID();
        Set<String> firstSeen = ConcurrentHashMap.newKeySet();
        Map<String, Long> atB = new ConcurrentHashMap<>();
        // a revocation of A's waits up to 60 s for records still running or failed; its nacks delay by 20 s
        try (Courier a = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                     .set("courier.kafka.commit.interval", "100ms").set("courier.kafka.revoke.timeout", "60s").build());
             Courier b = connect(url)) {
            a.subscribe(Subscribe.to(t).group(group), d -> {
                firstSeen.add(d.payload(String.class));
                d.nack(Duration.ofSeconds(20)); // below the 30 s retry-topic threshold: waits in process
            });
            for (int p = 0; p < partitions; p++) {
                a.publisher().publish(t, keyFor(p, partitions), "m" + p).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            await(() -> firstSeen.size() == partitions, 60);
            assertThat(firstSeen).as("first deliveries at A").hasSize(partitions);
            long joined = System.nanoTime();
            b.subscribe(Subscribe.to(t).group(group), d -> {
                atB.putIfAbsent(d.payload(String.class), System.nanoTime() - joined);
                d.ack();
            });
            // one of the two partitions moves to B; its record is nacked at A with 20 s to go
            await(() -> !atB.isEmpty(), 60);
            assertThat(atB).as("records B took over").isNotEmpty();
            Duration took = Duration.ofNanos(atB.values().iterator().next());
            assertThat(took).as("from B joining to its first record, which A held for a 20 s redelivery delay")
                    .isLessThan(Duration.ofSeconds(12));
        }
    }

    @Test
    @DisplayName("close gives back a record waiting for an in-process redelivery at once instead of waiting out its delay (up to the drain timeout)")
    void closeDoesNotWaitForAPendingRedelivery() throws Exception {
        String t = topic("close-nacked");
        try (Courier courier = connect(url)) {
            CompletableFuture<Integer> first = new CompletableFuture<>();
            dev.courier.Subscription sub = courier.subscribe(Subscribe.to(t).group("g-" + UUID.randomUUID()), d -> {
                first.complete(d.attempt());
                d.nack(Duration.ofSeconds(20)); // below the 30 s retry-topic threshold: waits in process
            });
            courier.publisher().publish(t, "k", "m").toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertThat(first.get(60, TimeUnit.SECONDS)).isEqualTo(1);
            Thread.sleep(300);
            long before = System.nanoTime();
            sub.close(); // drain timeout 30 s; no handler is running
            Duration took = Duration.ofNanos(System.nanoTime() - before);
            assertThat(took).as("close with no handler running").isLessThan(Duration.ofSeconds(5));
        }
    }
}
