package dev.courier.benchmarks.kafka;

import dev.courier.reliability.offset.OffsetCommitCoordinator;
import dev.courier.reliability.offset.OrderingMode;
import dev.courier.reliability.offset.PartitionId;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * The offset-commit coordinator's own CPU cost per record, on one thread: polls of 500 records
 * (fresh key strings, as a deserializer makes them, over 1,000 keys and 6 partitions) go through
 * {@code submitAll} in KEY mode with a no-op synchronous handler on an inline executor, and
 * {@code pollCommits} runs after every poll. The thread's CPU time per record is printed per round;
 * it includes making the test records. No broker, no second thread; it still moves by about 15 %
 * between runs on a shared machine, so compare coordinator changes in alternating runs.
 *
 * <p>System properties: {@code records} (6,000,000 per round), {@code rounds} (8).
 */
public final class CoordinatorCost {

    private record Polled(long offset, String key) {
    }

    private CoordinatorCost() {
    }

    public static void main(String[] args) {
        int records = Integer.getInteger("records", 6_000_000);
        int rounds = Integer.getInteger("rounds", 8);
        int batch = 500;
        int partitions = 6;
        String[] keys = new String[1000];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "key-" + i;
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (int round = 1; round <= rounds; round++) {
            long[] sink = new long[1];
            OffsetCommitCoordinator<Polled> coordinator = OffsetCommitCoordinator.<Polled>builder(r -> {
                        sink[0] += r.offset();
                        return CompletableFuture.completedFuture(null);
                    }, (r, e) -> {
                        throw new IllegalStateException("no record fails here", e);
                    })
                    .ordering(OrderingMode.KEY).maxConcurrency(1).maxInFlight(1 << 20)
                    .executor(Runnable::run).commitInterval(Duration.ofMillis(100)).build();
            long[] next = new long[partitions];
            Random random = new Random(round);
            long cpu0 = threads.getCurrentThreadCpuTime();
            for (int done = 0; done < records; done += batch) {
                int p = (done / batch) % partitions;
                List<Polled> polled = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++) {
                    polled.add(new Polled(next[p]++, new String(keys[random.nextInt(keys.length)])));
                }
                coordinator.submitAll(PartitionId.of("cost", p), polled, Polled::offset, Polled::key, r -> r);
                coordinator.pollCommits(System.nanoTime());
            }
            long cpu = threads.getCurrentThreadCpuTime() - cpu0;
            coordinator.close(Duration.ZERO);
            System.out.printf(Locale.ROOT, "round %d: %.1f ns of CPU per record (checksum %d)%n", round,
                    cpu / (double) records, sink[0] % 1000);
        }
    }
}
