package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Delivery;
import dev.courier.Ordering;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.reliability.offset.OrderingMode;
import dev.courier.testkit.kafka.KafkaFixture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Kafka-specific guarantees on the embedded KRaft broker (or COURIER_TEST_KAFKA_URL). */
class KafkaBindingTest {

    static String url;
    static Courier courier;
    static Admin admin;

    @BeforeAll
    static void connect() {
        url = KafkaFixture.resolve();
        courier = connect(url);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url)));
    }

    static Courier connect(String url) {
        return Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.commit.interval", "100ms").build());
    }

    @AfterAll
    static void close() {
        courier.close();
        admin.close();
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

    long committed(String group, String topic, int partition) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        OffsetAndMetadata o = m.get(new TopicPartition(topic, partition));
        return o == null ? -1 : o.offset();
    }

    @Test
    @DisplayName("PARTITION ordering handles each partition's records one at a time in offset order")
    void perPartitionOrder() throws Exception {
        String t = topic("order");
        int n = 300;
        Map<Integer, List<Long>> offsets = new ConcurrentHashMap<>();
        Map<Integer, Integer> running = new ConcurrentHashMap<>();
        List<String> overlaps = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(t).group("g").concurrency(8).with(KafkaSubscribeOptions.ordering(OrderingMode.PARTITION)), d -> {
            int p = d.metadata().partition().getAsInt();
            if (running.merge(p, 1, Integer::sum) > 1) {
                overlaps.add("partition " + p);
            }
            offsets.computeIfAbsent(p, k -> Collections.synchronizedList(new ArrayList<>())).add(d.metadata().offset().getAsLong());
            running.merge(p, -1, Integer::sum);
        });
        for (int i = 0; i < n; i++) {
            courier.publisher().publish(t, "k" + (i % 10), i);
        }
        await(() -> offsets.values().stream().mapToInt(List::size).sum() == n, n + " records");
        assertThat(overlaps).isEmpty();
        for (List<Long> l : offsets.values()) {
            List<Long> sorted = new ArrayList<>(l);
            Collections.sort(sorted);
            assertThat(l).isEqualTo(sorted);
        }
    }

    @Test
    @DisplayName("bytes published without a copy are the bytes delivered, even if the caller reuses the array at once")
    void reusedArrayDoesNotChangeWhatWasPublished() throws Exception {
        String t = topic("reuse");
        byte[] buffer = new byte[64];
        List<CompletableFuture<?>> sent = new ArrayList<>();
        // the first publishes wait for the new topic (the binding keeps a copy), the rest go straight to the producer
        for (int i = 0; i < 200; i++) {
            java.util.Arrays.fill(buffer, (byte) (i % 100));
            sent.add(courier.publisher().publish(t, "k" + (i % 7), buffer).toCompletableFuture());
            java.util.Arrays.fill(buffer, (byte) -1); // the caller's next use of its buffer
        }
        CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        List<byte[]> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(t).group("reuse").startFrom(StartPosition.earliest()), d -> got.add(d.message().payload()));
        await(() -> got.size() == 200, "200 records");
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        for (byte[] payload : got) {
            assertThat(payload).hasSize(64);
            byte first = payload[0];
            assertThat(first).as("never the bytes written after publish returned").isNotEqualTo((byte) -1);
            for (byte b : payload) {
                assertThat(b).isEqualTo(first);
            }
            seen.add((int) first);
        }
        assertThat(seen).hasSize(100);
    }

    @Test
    @DisplayName("with a listener, a published message keeps the bytes of the moment of publish")
    void listenerSeesPublishedBytes() throws Exception {
        String t = topic("listened");
        List<byte[]> reported = new CopyOnWriteArrayList<>();
        try (Courier listened = Courier.builder()
                .config(CourierConfig.builder().withoutEnvironment().url(url).build())
                .listener(new dev.courier.CourierListener() {
                    @Override
                    public void published(dev.courier.Message message, dev.courier.PublishReceipt receipt) {
                        reported.add(message.payload());
                    }
                }).connect()) {
            byte[] buffer = new byte[16];
            List<CompletableFuture<?>> sent = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                java.util.Arrays.fill(buffer, (byte) i);
                sent.add(listened.publisher().publish(t, "k", buffer).toCompletableFuture());
                java.util.Arrays.fill(buffer, (byte) -1);
            }
            CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        }
        assertThat(reported).hasSize(50).allSatisfy(p -> assertThat(p[0]).isNotEqualTo((byte) -1));
    }

    @Test
    @DisplayName("publish confirms run on the producer's I/O thread or on a thread inside publish(); with confirms-on-senders off, on the I/O thread only")
    void whereConfirmsRun() throws Exception {
        String t = topic("confirms");
        // the topic first: a publish that waits for its topic is sent from the admin client's thread
        courier.publisher().publish(t, "create").toCompletableFuture().get(30, TimeUnit.SECONDS);
        Set<String> defaults = confirmThreads(courier, t, 3_000);
        String me = Thread.currentThread().getName();
        // the handler executor too (platform threads named so, virtual ones unnamed): a sender kept in send()
        // for 10 ms, which a loaded machine can do, leaves its answers to it
        assertThat(defaults).isNotEmpty().allSatisfy(name -> assertThat(name.equals(me) || name.startsWith("kafka-producer-network-thread")
                || name.startsWith("courier-handler") || name.isEmpty()).as("confirm ran on %s", name).isTrue());
        try (Courier ioOnly = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.publish.confirms-on-senders", "false").build())) {
            Set<String> threads = confirmThreads(ioOnly, t, 3_000);
            assertThat(threads).isNotEmpty().allSatisfy(name -> assertThat(name).startsWith("kafka-producer-network-thread"));
        }
    }

    /** Publishes {@code n} records as fast as it can and returns the names of the threads their stages completed on. */
    private static Set<String> confirmThreads(Courier c, String topic, int n) throws Exception {
        Set<String> names = ConcurrentHashMap.newKeySet();
        List<CompletableFuture<?>> all = new ArrayList<>();
        byte[] payload = new byte[512];
        for (int i = 0; i < n; i++) {
            all.add(c.publisher().publish(topic, "k" + (i % 16), payload).whenComplete((r, e) -> names.add(Thread.currentThread().getName()))
                    .toCompletableFuture());
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        return names;
    }

    @Test
    @DisplayName("a new group replays from earliest, and a time start skips older records")
    void replay() throws Exception {
        String t = topic("replay");
        for (int i = 0; i < 10; i++) {
            courier.publisher().publish(t, "old" + i).toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        Thread.sleep(50);
        java.time.Instant cut = java.time.Instant.now();
        Thread.sleep(50);
        for (int i = 0; i < 5; i++) {
            courier.publisher().publish(t, "new" + i).toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        List<String> all = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(t).group("replay-all").startFrom(StartPosition.earliest()), d -> all.add(d.payload(String.class)));
        List<String> recent = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(t).group("replay-recent").startFrom(StartPosition.at(cut)), d -> recent.add(d.payload(String.class)));
        await(() -> all.size() == 15 && recent.size() == 5, "15 replayed and 5 recent");
        assertThat(recent).allMatch(s -> s.startsWith("new"));
    }

    @Test
    @DisplayName("two consumers in one group, one joining mid-stream, lose nothing")
    void rebalanceWithoutLoss() throws Exception {
        String t = topic("rebalance");
        int n = 2000;
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        Subscription first = courier.subscribe(Subscribe.to(t).group("g").concurrency(4), d -> seen.add(d.payload(Integer.class)));
        for (int i = 0; i < n / 2; i++) {
            courier.publisher().publish(t, "k" + i, i);
        }
        try (Courier second = connect(url)) {
            second.subscribe(Subscribe.to(t).group("g").concurrency(4), d -> seen.add(d.payload(Integer.class)));
            for (int i = n / 2; i < n; i++) {
                courier.publisher().publish(t, "k" + i, i).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            await(() -> seen.size() == n, n + " distinct records, saw " + seen.size());
        }
        first.close();
    }

    @Test
    @DisplayName("a slow record at offset N holds the commit at N while later records finish; then it advances")
    void commitNeverSkipsAGap() throws Exception {
        String t = topic("gap");
        CountDownLatch release = new CountDownLatch(1);
        Set<Integer> done = ConcurrentHashMap.newKeySet();
        // everything on one partition (same key under UNORDERED keeps one partition but runs records in parallel)
        courier.subscribe(Subscribe.to(t).group("g").concurrency(8).ordering(Ordering.NONE), d -> {
            int i = d.payload(Integer.class);
            if (i == 3) {
                release.await();
            }
            done.add(i);
        });
        int partition = partitionOf(t, "same"); // offset 0 holds this probe; records 0..9 follow at offsets 1..10
        for (int i = 0; i < 10; i++) {
            courier.publisher().publish(t, "same", i).toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        await(() -> done.size() == 10, "all but record 3 (offset 4) done");
        Thread.sleep(500); // several commit intervals
        assertThat(committed("g", t, partition)).isBetween(-1L, 4L);
        release.countDown();
        await(() -> {
            try {
                return committed("g", t, partition) == 11;
            } catch (Exception e) {
                return false;
            }
        }, "commit to reach 11");
    }

    @Test
    @DisplayName("a restarted consumer resumes from the committed offset and reprocesses nothing committed")
    void restartResumes() throws Exception {
        String t = topic("restart");
        List<Integer> firstRun = new CopyOnWriteArrayList<>();
        try (Courier c = connect(url)) {
            c.subscribe(Subscribe.to(t).group("g"), d -> firstRun.add(d.payload(Integer.class)));
            for (int i = 0; i < 50; i++) {
                c.publisher().publish(t, "k", i).toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            await(() -> firstRun.size() == 50, "first 50");
        }
        courier.publisher().publish(t, "k", 50).toCompletableFuture().get(30, TimeUnit.SECONDS);
        List<Integer> secondRun = new CopyOnWriteArrayList<>();
        try (Courier c = connect(url)) {
            c.subscribe(Subscribe.to(t).group("g"), d -> secondRun.add(d.payload(Integer.class)));
            await(() -> secondRun.contains(50), "record 50 after restart");
            Thread.sleep(300);
        }
        assertThat(secondRun).containsExactly(50);
    }

    @Test
    @DisplayName("a record given back (nack without delay) while paused does not hold the close for the drain timeout, and stays for the group")
    void giveBackWhilePausedDoesNotHoldTheClose() throws Exception {
        String t = topic("giveback");
        courier.publisher().publish(t, "k", 1).toCompletableFuture().get(30, TimeUnit.SECONDS);
        CompletableFuture<Delivery> held = new CompletableFuture<>();
        AtomicBoolean stopping = new AtomicBoolean();
        try (Courier c = connect(url)) {
            // as DeadLetters.list does: hold the delivery, then pause, give it back and close
            Subscription sub = c.subscribeAsync(Subscribe.to(t).group("g").maxAttempts(1000).redeliveryDelay(Duration.ZERO), d -> {
                if (stopping.get()) {
                    d.nack(Duration.ZERO);
                } else {
                    held.complete(d);
                }
                return null;
            });
            Delivery d = held.get(60, TimeUnit.SECONDS);
            stopping.set(true);
            sub.pause();
            d.nack(Duration.ZERO);
            // a drain timeout far beyond the wait below: only giving the record up at close ends it in time
            CompletableFuture.runAsync(() -> sub.close(Duration.ofMinutes(10))).get(60, TimeUnit.SECONDS);
        }
        CompletableFuture<Integer> again = new CompletableFuture<>();
        try (Courier c = connect(url)) {
            c.subscribe(Subscribe.to(t).group("g"), d -> again.complete(d.payload(Integer.class)));
            assertThat(again.get(60, TimeUnit.SECONDS)).as("the given-back record is not lost").isEqualTo(1);
        }
    }

    private int partitionOf(String topic, String key) throws Exception {
        return courier.publisher().publish(topic, key, -1).toCompletableFuture().get(30, TimeUnit.SECONDS)
                .position().partition().getAsInt();
    }
}
