package dev.courier.benchmarks.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.Publisher;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.kafka.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Courier over Kafka against the plain Kafka clients, on the same broker in the same JVM, rounds
 * alternating between the two so that drift on a noisy machine hits both:
 *
 * <ul>
 *   <li>publish: {@code KafkaProducer<String, byte[]>.send(record, callback)} against
 *       {@code courier.publisher().publish(topic, key, bytes)}, N keyed records of 1 KiB, nothing
 *       blocks per record, the clock stops when the last ack arrived. Both producers: acks=all,
 *       idempotence on, the same linger.ms and batch.size, no compression. Courier runs twice per
 *       round: {@code publish(topic, key, bytes)} and {@code Message.Builder.payloadOwned}; each is
 *       compared with the plain run of its round. Two more runs per round are references: the
 *       plain producer adding the {@code courier-id} header Courier puts on every record (A), and
 *       A with a {@code CompletableFuture} per record that the callback completes and the caller
 *       waits on with {@code whenComplete} (B), which is what a stage per publish costs any API.
 *       The publish topic keeps little data (see {@link #keepSmall}).</li>
 *   <li>consume: a {@code KafkaConsumer} poll loop (no-op per record, commitAsync every 500 ms)
 *       against {@code courier.subscribe} with a no-op handler (concurrency 1 and 8), each reading
 *       the same prepared topic from the earliest offset with a new group; the clock starts at the
 *       first record and stops at the N-th. Both: max.poll.records=500.</li>
 * </ul>
 *
 * <p>System properties: {@code records} (200000), {@code payload} (1024), {@code rounds} (3),
 * {@code linger.ms} (5), {@code batch.size} (65536), {@code partitions} (6), {@code maxInFlight}
 * (Courier subscription, 2048), {@code bench.bootstrap} (use this broker instead of starting one),
 * {@code bench.dir} (where the result table is written), {@code warmup} (records each side publishes
 * before the publish rounds, default {@code records}), {@code bench.phases} (publish, consume1,
 * consume8; all by default), {@code bench.groupProtocol} (both consumers, default "consumer"),
 * {@code bench.consumeWarmups} (full reads per side before the consume rounds, 3), {@code bench.provisioning}
 * (Courier creates topics, and each group subscription its retry topic; false). Odd rounds run
 * the sides in reverse order, so a drift over the run favours neither.
 */
public final class ClientThroughput {

    private static final int RECORDS = Integer.getInteger("records", 200_000);
    private static final int PAYLOAD = Integer.getInteger("payload", 1024);
    private static final int ROUNDS = Integer.getInteger("rounds", 3);
    private static final String LINGER = System.getProperty("linger.ms", "5");
    private static final String BATCH = System.getProperty("batch.size", "65536");
    private static final int PARTITIONS = Integer.getInteger("partitions", 6);
    private static final int MAX_IN_FLIGHT = Integer.getInteger("maxInFlight", 2048);
    private static final int KEYS = 1000;
    /**
     * Records each side publishes before the measured publish rounds. C2 kept compiling for about
     * 20 s of a run on 2 cores (30-45 % of a core); a quarter round of warm-up left most of that in
     * the measured rounds.
     */
    private static final int WARMUP = Integer.getInteger("warmup", RECORDS);
    /** Which comparisons to run: any of publish, consume1, consume8 (comma separated); all by default. */
    /**
     * Consumer group protocol of both consumers: Courier's default is KIP-848's "consumer" protocol,
     * whose consumer fetches on a background thread; the plain consumer used to run "classic".
     */
    private static final String GROUP_PROTOCOL = System.getProperty("bench.groupProtocol", "consumer");
    private static final String PHASES = System.getProperty("bench.phases", "publish,consume1,consume8");
    /**
     * Full reads of the topic each side makes before a consume comparison's measured rounds. With
     * one, both sides were still getting faster round by round (C2 compiling through the run).
     */
    private static final int CONSUME_WARMUPS = Integer.getInteger("bench.consumeWarmups", 3);
    /**
     * Courier's topic provisioning (off by default here). On, every group subscription also gets its
     * retry topic and the consumer of it, as with Courier's defaults.
     */
    private static final String PROVISIONING = System.getProperty("bench.provisioning", "false");

    private static Cpu cpu;
    /** CPU microseconds per record of the last measured run: [client JVM, broker]. */
    private static double[] lastCpu = new double[2];
    private static final StringBuilder CPU_REPORT = new StringBuilder();

    private ClientThroughput() {
    }

    /** With -Dbench.threads=true, each measurement also prints where the client's CPU went, by kind of thread. */
    private static final boolean THREAD_CPU = Boolean.getBoolean("bench.threads");
    private static volatile Map<Long, long[]> threadsAtStart = Map.of();

    private static long[] cpuStart() {
        if (THREAD_CPU) {
            threadsAtStart = Cpu.threads();
        }
        return cpu.now();
    }

    private static void cpuEnd(long[] start, int records) {
        long[] end = cpu.now();
        lastCpu = new double[] {(end[0] - start[0]) / 1e3 / records, (end[1] - start[1]) / 1e3 / records};
        if (THREAD_CPU) {
            System.err.println("    client CPU us/record by thread: "
                    + Cpu.breakdown(threadsAtStart, Cpu.threads(), end[0] - start[0], records));
        }
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = System.getProperty("bench.bootstrap", "");
        EmbeddedKafka kafka = null;
        if (bootstrap.isEmpty()) {
            kafka = Brokers.start();
            bootstrap = kafka.bootstrapServers();
        }
        cpu = new Cpu(kafka == null ? -1 : kafka.pid());
        byte[] payload = new byte[PAYLOAD];
        String[] keys = new String[KEYS];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = "key-" + i;
        }
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "Courier vs plain Kafka clients: %,d records of %d B, %d partitions, linger.ms=%s, batch.size=%s, "
                        + "JDK %s, %d cores; median of %d rounds after a warm-up%n%n", RECORDS, PAYLOAD, PARTITIONS, LINGER, BATCH,
                Runtime.version(), Runtime.getRuntime().availableProcessors(), ROUNDS));
        report.append("| benchmark | plain Kafka client | Courier | Courier / plain (medians) | median of the per-round ratios |\n"
                + "| --- | --- | --- | --- | --- |\n");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps(bootstrap));
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url("kafka://" + bootstrap)
                     .set("courier.kafka.producer.acks", "all")
                     .set("courier.kafka.producer.enable.idempotence", "true")
                     .set("courier.kafka.producer.linger.ms", LINGER)
                     .set("courier.kafka.producer.batch.size", BATCH)
                     .set("courier.kafka.producer.compression.type", "none")
                     .set("courier.kafka.consumer.max.poll.records", "500")
                     .set("courier.kafka.consumer.group.protocol", GROUP_PROTOCOL)
                     .set("courier.kafka.provisioning", PROVISIONING)
                     .build())) {
            String produceTopic = "bench.produce";
            String consumeTopic = "bench.consume." + RECORDS;
            createTopics(admin, bootstrap, produceTopic, consumeTopic);
            keepSmall(admin, produceTopic);
            Publisher publisher = courier.publisher();

            // ---- publish
            if (PHASES.contains("publish")) {
                // the runs of a round: 0 plain, 1 Courier, 2 Courier payloadOwned, 3 plain + id header,
                // 4 plain + id header + a CompletableFuture per record that the caller completes on
                double[][] rate = new double[RUNS][ROUNDS];
                double[][][] cpuOf = new double[RUNS][ROUNDS][];
                for (int run = 0; run < RUNS; run++) {
                    publishRun(run, producer, publisher, produceTopic, keys, payload, WARMUP);
                }
                for (int r = 0; r < ROUNDS; r++) {
                    // odd rounds run them in reverse order, so a drift over the run (JIT, broker,
                    // page cache, neighbours) favours none
                    for (int step = 0; step < RUNS; step++) {
                        int run = r % 2 == 0 ? step : RUNS - 1 - step;
                        long[] c0 = cpuStart();
                        rate[run][r] = publishRun(run, producer, publisher, produceTopic, keys, payload, RECORDS);
                        cpuEnd(c0, RECORDS);
                        cpuOf[run][r] = lastCpu;
                    }
                    progress("publish", r, rate[0][r], rate[1][r], cpuOf[0][r], cpuOf[1][r]);
                    progress("publish payloadOwned", r, rate[0][r], rate[2][r], cpuOf[0][r], cpuOf[2][r]);
                    progress("plain publish with a courier-id header", r, rate[0][r], rate[3][r], cpuOf[0][r], cpuOf[3][r]);
                    progress("plain publish with a courier-id header and a future", r, rate[0][r], rate[4][r], cpuOf[0][r], cpuOf[4][r]);
                }
                row(report, "publish 1 KiB keyed, acks=all, idempotent (payload copied)", rate[0], rate[1]);
                row(report, "publish 1 KiB keyed, acks=all, idempotent, zero-copy `payloadOwned`", rate[0], rate[2]);
                row(report, "reference A: the plain producer adding the `courier-id` header Courier sends (in the Courier column)", rate[0], rate[3]);
                row(report, "reference B: A, and a `CompletableFuture` per record completed in the callback, with a `whenComplete` (in the Courier column)",
                        rate[0], rate[4]);
                row(report, "publish against reference A: Courier / plain producer with the same header", rate[3], rate[1]);
                row(report, "publish against reference B: Courier / plain producer with the same header and a future per record", rate[4], rate[1]);
                cpuRow("publish (payload copied)", cpuOf[0], cpuOf[1]);
                cpuRow("publish, zero-copy `payloadOwned`", cpuOf[0], cpuOf[2]);
                cpuRow("reference A: plain producer with the `courier-id` header", cpuOf[0], cpuOf[3]);
                cpuRow("reference B: A and a future per record", cpuOf[0], cpuOf[4]);
            }

            // ---- consume
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> ends = new HashMap<>();
            for (int partition = 0; partition < PARTITIONS; partition++) {
                ends.put(new org.apache.kafka.common.TopicPartition(consumeTopic, partition), org.apache.kafka.clients.admin.OffsetSpec.latest());
            }
            long stored = admin.listOffsets(ends).all().get().values().stream().mapToLong(o -> o.offset()).sum();
            if (stored < RECORDS) {
                rawPublish(producer, consumeTopic, keys, payload, RECORDS);
            }
            for (int concurrency : new int[] {1, 8}) {
                if (!PHASES.contains("consume" + concurrency)) {
                    continue;
                }
                double[] raw = new double[ROUNDS];
                double[] cou = new double[ROUNDS];
                double[][] rawCpu = new double[ROUNDS][];
                double[][] couCpu = new double[ROUNDS][];
                for (int w = 0; w < CONSUME_WARMUPS; w++) {
                    rawConsume(bootstrap, consumeTopic);
                    courierConsume(courier, consumeTopic, concurrency);
                }
                for (int r = 0; r < ROUNDS; r++) {
                    // odd rounds run Courier first (see publish)
                    if (r % 2 == 1) {
                        cou[r] = courierConsume(courier, consumeTopic, concurrency);
                        couCpu[r] = lastCpu;
                    }
                    raw[r] = rawConsume(bootstrap, consumeTopic);
                    rawCpu[r] = lastCpu;
                    if (r % 2 == 0) {
                        cou[r] = courierConsume(courier, consumeTopic, concurrency);
                        couCpu[r] = lastCpu;
                    }
                    progress("consume c=" + concurrency, r, raw[r], cou[r], rawCpu[r], couCpu[r]);
                }
                row(report, "consume no-op, Courier concurrency " + concurrency + " (BY_KEY, maxInFlight " + MAX_IN_FLIGHT + ")", raw, cou);
                cpuRow("consume c=" + concurrency, rawCpu, couCpu);
            }
        } finally {
            if (kafka != null) {
                kafka.close();
            }
        }
        report.append("\nCPU microseconds per record while the clock ran (median of the rounds; client = the benchmark JVM, "
                + "broker = the broker process):\n\n| benchmark | plain: client | plain: broker | Courier: client | Courier: broker "
                + "| Courier / plain, client CPU |\n| --- | --- | --- | --- | --- | --- |\n").append(CPU_REPORT);
        System.out.println();
        System.out.println(report);
        Path dir = Path.of(System.getProperty("bench.dir", "target/bench-kafka"));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("client-results.md"), report.toString(), StandardCharsets.UTF_8);
    }

    private static void progress(String what, int round, double raw, double courier, double[] rawCpu, double[] courierCpu) {
        System.err.printf(Locale.ROOT, "  %s round %d: plain %,.0f rec/s, Courier %,.0f rec/s (%.2f); CPU us/record client+broker: "
                        + "plain %.1f+%.1f, Courier %.1f+%.1f%n", what, round + 1, raw, courier, courier / raw,
                rawCpu[0], rawCpu[1], courierCpu[0], courierCpu[1]);
    }

    private static void cpuRow(String name, double[][] raw, double[][] courier) {
        double[] rc = new double[raw.length];
        double[] rb = new double[raw.length];
        double[] cc = new double[raw.length];
        double[] cb = new double[raw.length];
        for (int i = 0; i < raw.length; i++) {
            rc[i] = raw[i][0];
            rb[i] = raw[i][1];
            cc[i] = courier[i][0];
            cb[i] = courier[i][1];
        }
        CPU_REPORT.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |%n", name,
                Stats.median(rc), Stats.median(rb), Stats.median(cc), Stats.median(cb), Stats.median(cc) / Stats.median(rc)));
    }

    /** Rates' medians and their ratio, and the median (range) of the per-round ratios: rounds alternate, so each ratio compares neighbours. */
    private static void row(StringBuilder report, String name, double[] raw, double[] courier) {
        double r = Stats.median(raw);
        double c = Stats.median(courier);
        double[] ratios = new double[raw.length];
        for (int i = 0; i < raw.length; i++) {
            ratios[i] = courier[i] / raw[i];
        }
        report.append(String.format(Locale.ROOT, "| %s | %,.0f rec/s | %,.0f rec/s | %.2f | %.2f (%.2f-%.2f) |%n", name, r, c, c / r,
                Stats.median(ratios), Stats.min(ratios), Stats.max(ratios)));
    }

    static Map<String, Object> producerProps(String bootstrap) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, LINGER);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, BATCH);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    private static void createTopics(Admin admin, String bootstrap, String... topics) throws Exception {
        var existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
        List<NewTopic> create = new ArrayList<>();
        for (String t : topics) {
            if (!existing.contains(t)) {
                create.add(new NewTopic(t, PARTITIONS, (short) 1));
            }
        }
        if (!create.isEmpty()) {
            admin.createTopics(create).all().get(60, TimeUnit.SECONDS);
        }
        // A burst of idempotent sends to partitions the broker has not loaded yet (it answers
        // NOT_LEADER_OR_FOLLOWER for a while under load) can end in OUT_OF_ORDER_SEQUENCE_NUMBER
        // retries until the delivery timeout. A plain producer writes one record to every new
        // partition first and waits until each is stored.
        if (!create.isEmpty()) {
            Map<String, Object> p = producerProps(bootstrap);
            p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
            try (KafkaProducer<String, byte[]> warm = new KafkaProducer<>(p)) {
                for (NewTopic t : create) {
                    for (int partition = 0; partition < PARTITIONS; partition++) {
                        warm.send(new ProducerRecord<>(t.name(), partition, null, new byte[0])).get(120, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    /**
     * The publish rounds write a gigabyte per run into one topic. Kept, that is more than twenty
     * gigabytes of log by the end of a run, and the broker's CPU per record moved between 1.9 and
     * 3.8 µs from one run to the next (most likely the kernel writing back and reclaiming that much
     * page cache), bounding the publish rate for both sides. Small segments, deleted a second after
     * they leave a small retention, keep the broker's work at 1.1-1.6 µs through the run. The
     * consume topic keeps everything.
     */
    static void keepSmall(Admin admin, String topic) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        List<AlterConfigOp> ops = List.of(
                new AlterConfigOp(new ConfigEntry("segment.bytes", Integer.toString(64 << 20)), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("retention.bytes", Integer.toString(128 << 20)), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("file.delete.delay.ms", "1000"), AlterConfigOp.OpType.SET));
        admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get(60, TimeUnit.SECONDS);
    }

    /**
     * One run's loop: publishes the records, each of which counts {@code acked} down when it is
     * confirmed and leaves a failure in {@code failure}. Every way of publishing has a loop of its
     * own: one loop with two ways of publishing in it made the JIT compile one of them worse (10 %
     * apart with the same records on the wire; apart, neither was ahead).
     */
    private interface PublishLoop {
        void run(CountDownLatch acked, AtomicReference<Throwable> failure);
    }

    /** Times {@code loop} from its first send to the last confirm of its {@code n} records; @return records per second. */
    private static double timed(String what, int n, PublishLoop loop) throws InterruptedException {
        CountDownLatch acked = new CountDownLatch(n);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime();
        loop.run(acked, failure);
        acked.await();
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) {
            throw new IllegalStateException(what + " failed", failure.get());
        }
        return n / (nanos / 1e9);
    }

    /** @return records per second */
    static double rawPublish(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[] payload, int n)
            throws InterruptedException {
        return timed("a plain publish", n, (acked, failure) -> sendPlain(producer, topic, keys, payload, n, acked, failure));
    }

    private static void sendPlain(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[] payload, int n,
            CountDownLatch acked, AtomicReference<Throwable> failure) {
        for (int i = 0; i < n; i++) {
            producer.send(new ProducerRecord<>(topic, keys[i % keys.length], payload), (md, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                acked.countDown();
            });
        }
    }

    /** Publish runs of a round, see the publish phase of {@link #main}. */
    private static final int RUNS = 5;

    private static double publishRun(int run, KafkaProducer<String, byte[]> producer, Publisher publisher, String topic, String[] keys,
            byte[] payload, int n) throws InterruptedException {
        return switch (run) {
            case 0 -> rawPublish(producer, topic, keys, payload, n);
            case 1, 2 -> courierPublish(publisher, topic, keys, payload, n, run == 2);
            default -> rawPublishWithId(producer, topic, keys, payload, n, run == 4);
        };
    }

    /**
     * The plain producer sending what Courier's publish puts on the wire besides key and value: a
     * {@code courier-id} header with a random UUID and the record's timestamp. Separates the cost of
     * the message id (on the client and on the broker, which reads every header of every record it
     * validates) from the rest of Courier's publish path. With {@code future}, each record also gets
     * a {@code CompletableFuture} that the callback completes and the caller waits on with
     * {@code whenComplete}, as a caller of Courier's publish does: the cost of a stage per publish.
     *
     * @return records per second
     */
    static double rawPublishWithId(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[] payload, int n,
            boolean future) throws InterruptedException {
        return future
                ? timed("a plain publish with an id header and a future", n,
                        (acked, failure) -> sendWithIdAndFuture(producer, topic, keys, payload, n, acked, failure))
                : timed("a plain publish with an id header", n, (acked, failure) -> sendWithId(producer, topic, keys, payload, n, acked, failure));
    }

    private static ProducerRecord<String, byte[]> recordWithId(String topic, String key, byte[] payload) {
        Header id = new RecordHeader(HeaderNames.MESSAGE_ID, Message.newId().getBytes(StandardCharsets.UTF_8));
        return new ProducerRecord<>(topic, null, System.currentTimeMillis(), key, payload, List.of(id));
    }

    private static void sendWithId(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[] payload, int n,
            CountDownLatch acked, AtomicReference<Throwable> failure) {
        for (int i = 0; i < n; i++) {
            producer.send(recordWithId(topic, keys[i % keys.length], payload), (md, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                acked.countDown();
            });
        }
    }

    /** What an API that returns a stage per publish adds: the future, its completion in the callback, the caller's whenComplete. */
    private static void sendWithIdAndFuture(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[] payload, int n,
            CountDownLatch acked, AtomicReference<Throwable> failure) {
        for (int i = 0; i < n; i++) {
            CompletableFuture<Long> stage = new CompletableFuture<>();
            producer.send(recordWithId(topic, keys[i % keys.length], payload), (md, e) -> {
                if (e == null) {
                    stage.complete(md.offset());
                } else {
                    stage.completeExceptionally(e);
                }
            });
            stage.whenComplete((offset, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                acked.countDown();
            });
        }
    }

    /**
     * Courier's publish of {@code n} records. {@code owned} false: {@code publish(topic, key, bytes)},
     * which copies the array; true: {@code Message.builder(topic).key(k).payloadOwned(bytes)}, no copy.
     * Both hand over the same array every time, as the plain producer does: it is never modified, which
     * is all {@code payloadOwned} asks, and an application's own serialization cost is the same for
     * either client, so it is left out of all three.
     *
     * @return records per second
     */
    static double courierPublish(Publisher publisher, String topic, String[] keys, byte[] payload, int n, boolean owned)
            throws InterruptedException {
        return owned
                ? timed("a Courier publish", n, (acked, failure) -> publishOwned(publisher, topic, keys, payload, n, acked, failure))
                : timed("a Courier publish", n, (acked, failure) -> publishBytes(publisher, topic, keys, payload, n, acked, failure));
    }

    private static void publishBytes(Publisher publisher, String topic, String[] keys, byte[] payload, int n, CountDownLatch acked,
            AtomicReference<Throwable> failure) {
        for (int i = 0; i < n; i++) {
            publisher.publish(topic, keys[i % keys.length], payload).whenComplete((receipt, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                acked.countDown();
            });
        }
    }

    private static void publishOwned(Publisher publisher, String topic, String[] keys, byte[] payload, int n, CountDownLatch acked,
            AtomicReference<Throwable> failure) {
        for (int i = 0; i < n; i++) {
            publisher.publish(Message.builder(topic).key(keys[i % keys.length]).payloadOwned(payload).build()).whenComplete((receipt, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                acked.countDown();
            });
        }
    }

    static double rawConsume(String bootstrap, String topic) {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "plain-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500");
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, GROUP_PROTOCOL);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            int seen = 0;
            long start = 0;
            long lastCommit = System.nanoTime();
            long sink = 0;
            long[] cpu0 = null;
            while (seen < RECORDS) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (!records.isEmpty() && start == 0) {
                    start = System.nanoTime();
                    cpu0 = cpuStart();
                }
                for (ConsumerRecord<String, byte[]> r : records) {
                    sink += r.offset(); // the no-op handler
                    seen++;
                }
                if (System.nanoTime() - lastCommit > 500_000_000L) {
                    consumer.commitAsync();
                    lastCommit = System.nanoTime();
                }
            }
            long nanos = System.nanoTime() - start;
            cpuEnd(cpu0, seen);
            consumer.commitSync();
            if (sink == -1) {
                System.err.println(sink);
            }
            return seen / (nanos / 1e9);
        }
    }

    static double courierConsume(Courier courier, String topic, int concurrency) throws InterruptedException {
        AtomicInteger seen = new AtomicInteger();
        long[] start = new long[1];
        CountDownLatch done = new CountDownLatch(1);
        long[] end = new long[1];
        long[][] cpu0 = new long[1][];
        Subscription sub = courier.subscribe(Subscribe.to(topic).group("courier-" + UUID.randomUUID())
                .concurrency(concurrency).maxInFlight(MAX_IN_FLIGHT), d -> {
            int n = seen.incrementAndGet();
            if (n == 1) {
                start[0] = System.nanoTime();
                cpu0[0] = cpuStart();
            }
            if (n == RECORDS) {
                end[0] = System.nanoTime();
                cpuEnd(cpu0[0], RECORDS);
                done.countDown();
            }
        });
        try {
            if (!done.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("only " + seen.get() + " of " + RECORDS + " records handled");
            }
        } finally {
            sub.close();
        }
        return RECORDS / ((end[0] - start[0]) / 1e9);
    }
}
