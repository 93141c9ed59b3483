package dev.courier.benchmarks.kafka;

import dev.courier.testkit.kafka.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs the parallel-consumer comparison in one go and prints one table per harness: Courier's
 * offset-commit coordinator on JDK 17 (platform threads) and on JDK 21+ (virtual threads) against
 * Confluent Parallel Consumer 0.5.3.x, each side in its own JVM, one after another, on the same
 * records: first the MockConsumer harness (deterministic feed, no broker), then a real broker.
 *
 * <p>Started by {@code scripts/bench-kafka.sh parallel}, which builds the classpaths. System
 * properties: {@code bench.dir} (work directory), {@code bench.courier.cp} (Courier side
 * classpath; default this JVM's), {@code bench.pc.cp} (Parallel Consumer side; side skipped when
 * empty), {@code bench.java17} / {@code bench.java25} (java executables; a side whose JVM is
 * missing is skipped), {@code bench.bootstrap} (use this broker instead of starting one),
 * {@code bench.harness} ({@code mock,broker}), {@code rounds} (3), {@code bench.scale} (1.0;
 * multiplies record counts, for quick trial runs).
 */
public final class ParallelCompare {

    static final int PARTITIONS = 10;
    static final byte[] VALUE = new byte[16];

    private ParallelCompare() {
    }

    /** One benchmark JVM: a label, its java executable, classpath, main class, extra JVM options, and whether it also runs on the broker. */
    record Side(String label, String java, String classpath, String mainClass, List<String> jvmOptions, boolean broker) {
        Side(String label, String java, String classpath, String mainClass) {
            this(label, java, classpath, mainClass, List.of(), true);
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(System.getProperty("bench.dir", "target/bench-kafka")).toAbsolutePath();
        Files.createDirectories(dir);
        double scale = Double.parseDouble(System.getProperty("bench.scale", "1"));
        int rounds = Integer.getInteger("rounds", 3);
        List<String> harnesses = List.of(System.getProperty("bench.harness", "mock,broker").split(","));
        String thisJava = ProcessHandle.current().info().command().orElse("java");
        String java17 = System.getProperty("bench.java17", thisJava);
        String java25 = System.getProperty("bench.java25", "");
        String courierCp = System.getProperty("bench.courier.cp", System.getProperty("java.class.path"));
        String pcCp = System.getProperty("bench.pc.cp", "");

        List<Side> sides = new ArrayList<>();
        sides.add(new Side("Courier JDK 17", java17, courierCp, CourierParallelBench.class.getName()));
        if (!Boolean.getBoolean("bench.noPrestarted")) {
            // the MockConsumer harness builds a new coordinator (and so a new pool) per run; this
            // side shows the same with the pool's threads already started
            sides.add(new Side("Courier JDK 17 prestarted pool", java17, courierCp, CourierParallelBench.class.getName(),
                    List.of("-Dbench.prestart=true"), false));
        }
        if (!java25.isEmpty() && Files.isExecutable(Path.of(java25))) {
            sides.add(new Side("Courier JDK 25", java25, courierCp, CourierParallelBench.class.getName()));
        } else {
            System.err.println("no JDK 25 given (-Dbench.java25=...): the virtual-thread column is skipped");
        }
        if (!pcCp.isEmpty()) {
            sides.add(new Side("Confluent PC JDK 17", java17, pcCp, "dev.courier.benchmarks.pc.PcParallelBench"));
        } else {
            System.err.println("no Parallel Consumer classpath (-Dbench.pc.cp=...): its column is skipped");
        }

        List<Scenario> scenarios = prepare(dir, scale);
        Scenario.writeAll(dir, scenarios);

        EmbeddedKafka kafka = null;
        String bootstrap = System.getProperty("bench.bootstrap", "");
        if (harnesses.contains("broker") && bootstrap.isEmpty()) {
            kafka = Brokers.start();
            bootstrap = kafka.bootstrapServers();
        }
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "Parallel consumers, %d cores, %d rounds after a warm-up, median; scale %.2f%n",
                Runtime.getRuntime().availableProcessors(), rounds, scale));
        try {
            if (harnesses.contains("broker")) {
                fillTopics(bootstrap, dir, scenarios);
            }
            for (String harness : harnesses) {
                Map<String, Map<String, double[]>> results = new LinkedHashMap<>();
                List<Side> here = sides.stream().filter(s -> harness.equals("mock") || s.broker()).toList();
                for (Side side : here) {
                    run(side, harness, dir, bootstrap, rounds, results);
                }
                String table = table(harness, scenarios, here, results);
                System.out.println(table);
                report.append(table).append('\n');
            }
        } finally {
            if (kafka != null) {
                kafka.close();
            }
        }
        Files.writeString(dir.resolve("parallel-results.md"), report.toString(), StandardCharsets.UTF_8);
        System.out.println("(also written to " + dir.resolve("parallel-results.md") + ")");
    }

    // ------------------------------------------------------------------ scenarios and records

    static List<Scenario> prepare(Path dir, double scale) {
        List<Scenario> out = new ArrayList<>();
        int n10k = scaled(10_000, scale);
        int n50k = scaled(50_000, scale);
        out.add(scenario(dir, "unordered 10k x 100ms c=1000", 100, 1000, "UNORDERED", Feed.distinctKeys(n10k, PARTITIONS), 1));
        out.add(scenario(dir, "unordered 50k x 100ms c=5000", 100, 5000, "UNORDERED", Feed.distinctKeys(n50k, PARTITIONS), 2));
        out.add(scenario(dir, "unordered 10k x 10ms c=1000", 10, 1000, "UNORDERED", Feed.distinctKeys(n10k, PARTITIONS), 3));
        out.add(scenario(dir, "zero work 200k c=16", 0, 16, "UNORDERED", Feed.distinctKeys(scaled(200_000, scale), PARTITIONS), 4));
        out.add(scenario(dir, "KEY uniform 10k keys, 10k x 100ms c=1000", 100, 1000, "KEY",
                Feed.uniformKeys(n10k, 10_000, PARTITIONS, 42), 5));
        out.add(scenario(dir, "KEY Zipf(1.1) 10k keys, 2k x 5ms c=1000", 5, 1000, "KEY",
                Feed.zipfKeys(scaled(2_000, scale), 10_000, 1.1, PARTITIONS, 42), 6));
        out.add(scenario(dir, "KEY 100 keys, 10k x 10ms c=1000", 10, 1000, "KEY", Feed.roundRobinKeys(n10k, 100, PARTITIONS), 7));
        out.add(scenario(dir, "PARTITION 10 partitions, 1k x 10ms c=1000", 10, 1000, "PARTITION",
                Feed.roundRobinPartitions(scaled(1_000, scale), PARTITIONS), 8));
        return out;
    }

    private static int scaled(int n, double scale) {
        return Math.max(10, (int) Math.round(n * scale));
    }

    private static Scenario scenario(Path dir, String name, int handlerMs, int concurrency, String mode, Feed feed, int index) {
        String topic = "bench.parallel." + index + "." + feed.size();
        feed.write(dir.resolve(topic + ".feed"));
        double ideal = idealMs(feed, handlerMs, concurrency, mode);
        return new Scenario(name, feed.size(), handlerMs, concurrency, mode, topic, PARTITIONS, ideal);
    }

    /**
     * A lower bound on the elapsed time: every wave of {@code concurrency} handlers takes the
     * handler time, and a key (KEY) or partition (PARTITION) runs its records one after another.
     */
    static double idealMs(Feed feed, int handlerMs, int concurrency, String mode) {
        double waves = Math.ceil(feed.size() / (double) concurrency) * handlerMs;
        return switch (mode) {
            case "KEY" -> Math.max(waves, (double) feed.maxPerKey() * handlerMs);
            case "PARTITION" -> Math.max(waves, (double) feed.maxPerPartition() * handlerMs);
            default -> waves;
        };
    }

    /** Attempts at writing one scenario's topic before the run gives up. */
    private static final int FILL_ATTEMPTS = 3;

    /**
     * Creates each scenario's topic (if missing) and writes its records, in feed order, to their
     * partitions. Every write is checked: right after a broker starts, produce requests to new
     * partitions can fail (NOT_LEADER_OR_FOLLOWER until their leaders are known, then retries that
     * run out), and a topic missing records would only show as a consumer waiting for records that
     * never come. A topic whose writing failed is deleted and written again.
     */
    static void fillTopics(String bootstrap, Path dir, List<Scenario> scenarios) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            var existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<Scenario> fill = new ArrayList<>();
            for (Scenario s : scenarios) {
                if (!existing.contains(s.topic())) {
                    fill.add(s);
                }
            }
            Map<String, Object> props = Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.LINGER_MS_CONFIG, "10",
                    ProducerConfig.BATCH_SIZE_CONFIG, "65536",
                    // a write that got stuck (seen: batches of one new partition unsent for the default two
                    // minutes) fails in 30 s and the topic is written again
                    ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000",
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000",
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
                for (Scenario s : fill) {
                    Feed feed = Feed.read(dir.resolve(s.topic() + ".feed"), s.records());
                    for (int attempt = 1; ; attempt++) {
                        createWithLeaders(admin, s);
                        String failure = write(producer, s, feed);
                        if (failure == null) {
                            break;
                        }
                        admin.deleteTopics(List.of(s.topic())).all().get(60, TimeUnit.SECONDS);
                        if (attempt == FILL_ATTEMPTS) {
                            throw new IllegalStateException("could not write the records of " + s.topic() + " in "
                                    + FILL_ATTEMPTS + " attempts; last failure: " + failure);
                        }
                        System.err.printf("writing %s failed (%s); writing it again%n", s.topic(), failure);
                        waitUntilGone(admin, s.topic());
                    }
                    System.err.printf("filled %s with %,d records%n", s.topic(), s.records());
                }
            }
        }
    }

    /** Creates the topic and waits until every partition has a leader, so the first writes are not refused. */
    private static void createWithLeaders(Admin admin, Scenario s) throws Exception {
        admin.createTopics(List.of(new NewTopic(s.topic(), s.partitions(), (short) 1))).all().get(60, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                var description = admin.describeTopics(List.of(s.topic())).allTopicNames().get(10, TimeUnit.SECONDS).get(s.topic());
                if (description.partitions().size() == s.partitions()
                        && description.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                    return;
                }
            } catch (ExecutionException e) {
                // not known to the broker's metadata yet
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the partitions of " + s.topic() + " got no leader within 30 s");
            }
            Thread.sleep(50);
        }
    }

    /** Writes the feed and returns the first send failure, or null when every record was stored. */
    private static String write(KafkaProducer<String, byte[]> producer, Scenario s, Feed feed) {
        AtomicReference<Exception> failed = new AtomicReference<>();
        AtomicInteger failures = new AtomicInteger();
        for (int i = 0; i < feed.size(); i++) {
            producer.send(new ProducerRecord<>(s.topic(), feed.partitions[i], feed.keys[i], VALUE), (md, e) -> {
                if (e != null) {
                    failures.incrementAndGet();
                    failed.compareAndSet(null, e);
                }
            });
        }
        producer.flush();
        return failed.get() == null ? null : failures.get() + " of " + feed.size() + " records not stored: " + failed.get();
    }

    private static void waitUntilGone(Admin admin, String topic) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (admin.listTopics().names().get(10, TimeUnit.SECONDS).contains(topic)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(topic + " still exists 30 s after it was deleted");
            }
            Thread.sleep(100);
        }
        Thread.sleep(500); // the broker removes the log directories after the topic leaves the metadata
    }

    // ------------------------------------------------------------------ running the sides

    static void run(Side side, String harness, Path dir, String bootstrap, int rounds,
                    Map<String, Map<String, double[]>> results) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(side.java(), "-Xms512m", "-Xmx2g", "-Drounds=" + rounds,
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
        command.addAll(side.jvmOptions());
        command.addAll(List.of("-cp", side.classpath(), side.mainClass(), harness, dir.toString()));
        if (harness.equals("broker")) {
            command.add(bootstrap);
        }
        System.err.printf("== %s, %s harness%n", side.label(), harness);
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("RESULT\t")) {
                    String[] f = line.split("\t");
                    results.computeIfAbsent(f[2], k -> new LinkedHashMap<>())
                            .put(side.label(), new double[] {Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6])});
                } else {
                    System.err.println(line);
                }
            }
        }
        int exit = p.waitFor();
        if (exit != 0) {
            System.err.printf("%s (%s) exited with %d; its missing rows show as '-'%n", side.label(), harness, exit);
        }
    }

    static String table(String harness, List<Scenario> scenarios, List<Side> sides, Map<String, Map<String, double[]>> results) {
        StringBuilder t = new StringBuilder();
        t.append(harness.equals("mock") ? "\n### MockConsumer harness (deterministic feed, no broker)\n\n"
                : "\n### Real broker (embedded single-node KRaft broker, same machine)\n\n");
        t.append("| scenario | ideal |");
        for (Side s : sides) {
            t.append(' ').append(s.label()).append(" |");
        }
        String pc = sides.stream().map(Side::label).filter(l -> l.startsWith("Confluent")).findFirst().orElse(null);
        List<String> courierSides = sides.stream().map(Side::label).filter(l -> l.startsWith("Courier")).toList();
        if (pc != null) {
            for (String c : courierSides) {
                t.append(' ').append(c.replace("Courier ", "")).append(": Courier vs PC |");
            }
        }
        t.append('\n').append("| --- | --- |");
        sides.forEach(s -> t.append(" --- |"));
        if (pc != null) {
            courierSides.forEach(s -> t.append(" --- |"));
        }
        t.append('\n');
        for (Scenario s : scenarios) {
            Map<String, double[]> row = results.getOrDefault(s.name(), Map.of());
            t.append("| ").append(s.name()).append(" | ");
            t.append(s.zeroWork() ? "-" : String.format(Locale.ROOT, "%.2f s", s.idealMs() / 1000));
            t.append(" |");
            for (Side side : sides) {
                double[] r = row.get(side.label());
                t.append(' ').append(cell(s, r)).append(" |");
            }
            if (pc != null) {
                double[] p = row.get(pc);
                for (String c : courierSides) {
                    double[] r = row.get(c);
                    // > 1 means Courier is faster: PC's elapsed time over Courier's
                    t.append(' ').append(r == null || p == null ? "-" : String.format(Locale.ROOT, "%.2fx", p[0] / r[0])).append(" |");
                }
            }
            t.append('\n');
        }
        t.append("\nCells: median elapsed (first handler start to last handler end) and ratio to ideal; zero-work rows: records/s. "
                + "\"Courier vs PC\" is PC's time over Courier's (above 1: Courier faster).\n");
        return t.toString();
    }

    private static String cell(Scenario s, double[] r) {
        if (r == null) {
            return "-";
        }
        if (s.zeroWork()) {
            return String.format(Locale.ROOT, "%,.0f rec/s", s.records() / (r[0] / 1000));
        }
        return String.format(Locale.ROOT, "%.2f s (%.2fx)", r[0] / 1000, r[0] / s.idealMs());
    }
}
