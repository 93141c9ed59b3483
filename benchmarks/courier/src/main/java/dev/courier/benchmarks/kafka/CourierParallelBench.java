package dev.courier.benchmarks.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.kafka.KafkaSubscribeOptions;
import dev.courier.reliability.offset.HandlerExecutors;
import dev.courier.reliability.offset.OffsetCommitCoordinator;
import dev.courier.reliability.offset.OrderingMode;
import dev.courier.reliability.offset.PartitionId;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Courier's side of the parallel-consumer comparison; run by {@link ParallelCompare} (one JVM per
 * side and JDK), or by hand.
 *
 * <ul>
 *   <li>{@code mock}: the {@link OffsetCommitCoordinator} fed by a {@link FeedConsumer} through the
 *       same poll loop the Kafka binding runs (pause/resume from the coordinator, submit every
 *       polled record, commit the coordinator's offsets every 500 ms). Handlers run on the
 *       coordinator's default executor: virtual threads on JDK 21+, a pool of {@code concurrency}
 *       platform threads on JDK 17.</li>
 *   <li>{@code broker}: {@code Courier.subscribe} over the Kafka binding against a real broker,
 *       reading the prepared topic from the earliest offset with a new group per run. Handlers run
 *       on the Courier's handler executor (virtual threads on JDK 21+, a cached platform pool on 17).</li>
 * </ul>
 *
 * <p>Prints one {@code RESULT} line per scenario: harness, scenario, side, median elapsed ms, min,
 * max. Arguments: {@code mock|broker <dir> [bootstrap]}; {@code -Drounds=3} (plus one warm-up run).
 */
public final class CourierParallelBench {

    static final int MAX_POLL_RECORDS = 500;
    static final Duration POLL = Duration.ofMillis(100);
    static final Duration COMMIT_INTERVAL = Duration.ofMillis(500);
    static final byte[] VALUE = new byte[16];

    private CourierParallelBench() {
    }

    /** The in-flight bound both Courier harnesses use: the coordinator's default, or twice the concurrency if more. */
    static int maxInFlight(Scenario s) {
        return Math.max(10_000, 2 * s.concurrency());
    }

    public static void main(String[] args) throws Exception {
        String harness = args[0];
        Path dir = Path.of(args[1]);
        int rounds = Integer.getInteger("rounds", 3);
        boolean prestart = Boolean.getBoolean("bench.prestart") && !HandlerExecutors.virtualThreadsAvailable();
        String side = "courier-jdk" + Stats.jdk() + (prestart ? "-prestarted" : "");
        List<Scenario> scenarios = Scenario.readAll(dir);
        Courier courier = harness.equals("broker")
                ? Courier.connect(CourierConfig.builder().withoutEnvironment().url("kafka://" + args[2])
                .set("courier.kafka.consumer.max.poll.records", Integer.toString(MAX_POLL_RECORDS))
                .set("courier.kafka.provisioning", "false")
                .build())
                : null;
        System.err.printf("%s %s: virtual threads %s%n", side, harness, HandlerExecutors.virtualThreadsAvailable() ? "yes" : "no");
        try {
            for (Scenario s : scenarios) {
                Feed feed = harness.equals("mock") ? Feed.read(dir.resolve(s.topic() + ".feed"), s.records()) : null;
                double[] ms = new double[rounds];
                for (int r = -1; r < rounds; r++) {
                    double elapsed = harness.equals("mock") ? runMock(s, feed, prestart) : runBroker(courier, s);
                    if (r >= 0) {
                        ms[r] = elapsed;
                    }
                    System.err.printf(Locale.ROOT, "  %s %s %s %s: %.1f ms%n", side, harness, s.name(), r < 0 ? "warm-up" : "round " + (r + 1), elapsed);
                }
                System.out.printf(Locale.ROOT, "RESULT\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f%n", harness, s.name(), side,
                        Stats.median(ms), Stats.min(ms), Stats.max(ms));
            }
        } finally {
            if (courier != null) {
                courier.close();
            }
        }
    }

    static OrderingMode mode(Scenario s) {
        return OrderingMode.valueOf(s.mode());
    }

    // ------------------------------------------------------------------ MockConsumer harness

    /**
     * @param prestart give the coordinator a platform pool whose {@code concurrency} threads are
     *                 started before the run (what a warmed-up application has), instead of its
     *                 default executor, which starts threads as the first records arrive
     */
    static double runMock(Scenario s, Feed feed, boolean prestart) throws Exception {
        Timing timing = new Timing(s.records());
        FeedConsumer consumer = new FeedConsumer(s.topic(), s.partitions(), feed, VALUE, MAX_POLL_RECORDS);
        CompletableFuture<Object> done = CompletableFuture.completedFuture(null);
        int sleep = s.handlerMs();
        OffsetCommitCoordinator<ConsumerRecord<String, byte[]>>[] holder = new OffsetCommitCoordinator[1];
        ExecutorService pool = null;
        if (prestart) {
            pool = HandlerExecutors.platformThreads(s.concurrency(), "bench-handler-");
            ((ThreadPoolExecutor) pool).prestartAllCoreThreads();
        }
        OffsetCommitCoordinator.Builder<ConsumerRecord<String, byte[]>> builder = OffsetCommitCoordinator
                .<ConsumerRecord<String, byte[]>>builder(record -> {
                    timing.started();
                    if (sleep > 0) {
                        Thread.sleep(sleep);
                    }
                    timing.finished();
                    return done;
                }, (handle, cause) -> holder[0].retry(handle))
                .ordering(mode(s))
                .maxConcurrency(s.concurrency())
                .maxInFlight(maxInFlight(s))
                .commitInterval(COMMIT_INTERVAL);
        if (pool != null) {
            builder.executor(pool);
        }
        OffsetCommitCoordinator<ConsumerRecord<String, byte[]>> coordinator = builder.build();
        holder[0] = coordinator;
        Thread poller = new Thread(() -> pollLoop(consumer, coordinator, s.topic(), timing), "bench-poll");
        poller.start();
        try {
            if (!timing.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException(s.name() + ": only " + timing.count() + " of " + s.records() + " records finished");
            }
        } finally {
            consumer.wakeup();
            poller.join();
            if (pool != null) {
                pool.shutdown();
            }
        }
        return timing.elapsedMs();
    }

    /** The Kafka binding's poll loop (KafkaSubscription.run), over a mock consumer. */
    private static void pollLoop(FeedConsumer consumer, OffsetCommitCoordinator<ConsumerRecord<String, byte[]>> coordinator,
                                 String topic, Timing timing) {
        Set<TopicPartition> assigned = new HashSet<>();
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                assigned.removeAll(partitions);
                commit(consumer, coordinator, coordinator.onPartitionsRevoked(ids(partitions), Duration.ofSeconds(10)));
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                assigned.addAll(partitions);
                coordinator.onPartitionsAssigned(ids(partitions));
            }
        });
        try {
            while (timing.count() < Integer.MAX_VALUE) {
                Set<PartitionId> pause = coordinator.partitionsToPause();
                Set<PartitionId> resume = coordinator.partitionsToResume();
                if (!pause.isEmpty()) {
                    consumer.pause(kafka(pause));
                }
                if (!resume.isEmpty()) {
                    Set<TopicPartition> r = kafka(resume);
                    r.retainAll(assigned);
                    consumer.resume(r);
                }
                ConsumerRecords<String, byte[]> records = consumer.poll(POLL);
                for (ConsumerRecord<String, byte[]> r : records) {
                    coordinator.submit(PartitionId.of(r.topic(), r.partition()), r.offset(), r.key(), r);
                }
                commit(consumer, coordinator, coordinator.pollCommits(System.nanoTime()));
            }
        } catch (WakeupException e) {
            // the run is over
        } finally {
            commit(consumer, coordinator, coordinator.close(Duration.ofSeconds(10)));
            consumer.close();
        }
    }

    private static void commit(FeedConsumer consumer, OffsetCommitCoordinator<?> coordinator, Map<PartitionId, Long> offsets) {
        if (offsets.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> kafka = new HashMap<>();
        offsets.forEach((p, o) -> kafka.put(new TopicPartition(p.topic(), p.partition()), new OffsetAndMetadata(o)));
        consumer.commitAsync(kafka, (c, e) -> {
            if (e == null) {
                coordinator.onCommitted(offsets);
            } else {
                offsets.forEach(coordinator::onCommitFailed);
            }
        });
    }

    private static Set<PartitionId> ids(Collection<TopicPartition> partitions) {
        Set<PartitionId> out = new HashSet<>();
        partitions.forEach(tp -> out.add(PartitionId.of(tp.topic(), tp.partition())));
        return out;
    }

    private static Set<TopicPartition> kafka(Collection<PartitionId> ids) {
        Set<TopicPartition> out = new HashSet<>();
        ids.forEach(p -> out.add(new TopicPartition(p.topic(), p.partition())));
        return out;
    }

    // ------------------------------------------------------------------ real broker, through the binding

    static double runBroker(Courier courier, Scenario s) throws Exception {
        Timing timing = new Timing(s.records());
        int sleep = s.handlerMs();
        Subscribe spec = Subscribe.to(s.topic()).group("courier-" + UUID.randomUUID())
                .concurrency(s.concurrency())
                .maxInFlight(maxInFlight(s))
                .ordering(s.mode().equals("UNORDERED") ? Ordering.NONE : Ordering.BY_KEY)
                .drainTimeout(Duration.ofSeconds(5));
        if (s.mode().equals("PARTITION")) {
            spec = spec.with(KafkaSubscribeOptions.ordering(OrderingMode.PARTITION));
        }
        Subscription sub = courier.subscribe(spec, d -> {
            timing.started();
            if (sleep > 0) {
                Thread.sleep(sleep);
            }
            timing.finished();
        });
        try {
            if (!timing.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException(s.name() + ": only " + timing.count() + " of " + s.records() + " records handled");
            }
        } finally {
            sub.close();
        }
        return timing.elapsedMs();
    }
}
