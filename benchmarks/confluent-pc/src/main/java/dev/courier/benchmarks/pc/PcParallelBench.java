package dev.courier.benchmarks.pc;

import io.confluent.parallelconsumer.ParallelConsumerOptions;
import io.confluent.parallelconsumer.ParallelConsumerOptions.CommitMode;
import io.confluent.parallelconsumer.ParallelConsumerOptions.ProcessingOrder;
import io.confluent.parallelconsumer.ParallelStreamProcessor;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Confluent Parallel Consumer's side of the parallel-consumer comparison (run by Courier's
 * {@code ParallelCompare}, in its own JVM on the kafka-clients 3.9 line). Reads the same
 * {@code scenarios.tsv} and feeds as Courier's side and prints the same {@code RESULT} lines.
 *
 * <ul>
 *   <li>{@code mock}: a {@code ParallelStreamProcessor} over a {@link FeedConsumer} (a MockConsumer
 *       fed the scenario's records, max 500 per poll, blocking polls).</li>
 *   <li>{@code broker}: over a {@link KafkaConsumer} reading the prepared topic from the earliest
 *       offset with a new group per run ({@code max.poll.records=500}, auto commit off).</li>
 * </ul>
 * Options: ordering and {@code maxConcurrency} from the scenario, periodic asynchronous consumer
 * commits; everything else is Parallel Consumer's default. The handler sleeps the scenario's
 * handler time; the clock runs from the first handler start to the last handler end.
 *
 * <p>Arguments: {@code mock|broker <dir> [bootstrap]}; {@code -Drounds=3} (plus one warm-up run).
 */
public final class PcParallelBench {

    static final int MAX_POLL_RECORDS = 500;
    static final byte[] VALUE = new byte[16];

    private PcParallelBench() {
    }

    /** A row of scenarios.tsv (written by Courier's ParallelCompare). */
    record Row(String name, int records, int handlerMs, int concurrency, String mode, String topic, int partitions) {
        static Row parse(String line) {
            String[] f = line.split("\t");
            return new Row(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[4], f[5],
                    Integer.parseInt(f[6]));
        }
    }

    public static void main(String[] args) throws Exception {
        String harness = args[0];
        Path dir = Path.of(args[1]);
        String bootstrap = args.length > 2 ? args[2] : null;
        int rounds = Integer.getInteger("rounds", 3);
        String side = "pc-jdk" + Runtime.version().feature();
        List<Row> rows = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("scenarios.tsv"), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                rows.add(Row.parse(line));
            }
        }
        for (Row row : rows) {
            int[] partitions = new int[row.records()];
            String[] keys = new String[row.records()];
            if (harness.equals("mock")) {
                readFeed(dir.resolve(row.topic() + ".feed"), partitions, keys);
            }
            double[] ms = new double[rounds];
            for (int r = -1; r < rounds; r++) {
                Consumer<String, byte[]> consumer = harness.equals("mock")
                        ? new FeedConsumer(row.topic(), row.partitions(), partitions, keys, VALUE, MAX_POLL_RECORDS)
                        : kafkaConsumer(bootstrap);
                double elapsed = run(row, consumer);
                if (r >= 0) {
                    ms[r] = elapsed;
                }
                System.err.printf(Locale.ROOT, "  %s %s %s %s: %.1f ms%n", side, harness, row.name(), r < 0 ? "warm-up" : "round " + (r + 1), elapsed);
            }
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
            System.out.printf(Locale.ROOT, "RESULT\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f%n", harness, row.name(), side,
                    median, sorted[0], sorted[sorted.length - 1]);
        }
        System.exit(0); // Parallel Consumer may leave non-daemon threads behind
    }

    static KafkaConsumer<String, byte[]> kafkaConsumer(String bootstrap) {
        return new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "pc-" + UUID.randomUUID(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(MAX_POLL_RECORDS),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()));
    }

    static double run(Row row, Consumer<String, byte[]> consumer) throws InterruptedException {
        AtomicLong first = new AtomicLong();
        AtomicInteger finished = new AtomicInteger();
        AtomicLong last = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        ParallelConsumerOptions<String, byte[]> options = ParallelConsumerOptions.<String, byte[]>builder()
                .consumer(consumer)
                .ordering(ProcessingOrder.valueOf(row.mode()))
                .maxConcurrency(row.concurrency())
                .commitMode(CommitMode.PERIODIC_CONSUMER_ASYNCHRONOUS)
                .build();
        ParallelStreamProcessor<String, byte[]> pc = ParallelStreamProcessor.createEosStreamProcessor(options);
        int sleep = row.handlerMs();
        try {
            pc.subscribe(List.of(row.topic()));
            pc.poll(context -> {
                if (first.get() == 0) {
                    first.compareAndSet(0, System.nanoTime());
                }
                if (sleep > 0) {
                    try {
                        Thread.sleep(sleep);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }
                if (finished.incrementAndGet() == row.records()) {
                    last.set(System.nanoTime());
                    done.countDown();
                }
            });
            if (!done.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException(row.name() + ": only " + finished.get() + " of " + row.records() + " records handled");
            }
        } finally {
            pc.closeDontDrainFirst(Duration.ofSeconds(10));
        }
        return (last.get() - first.get()) / 1e6;
    }

    static void readFeed(Path file, int[] partitions, String[] keys) throws IOException {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < keys.length; i++) {
                String line = r.readLine();
                int tab = line.indexOf('\t');
                partitions[i] = Integer.parseInt(line, 0, tab, 10);
                keys[i] = line.substring(tab + 1);
            }
        }
    }
}
