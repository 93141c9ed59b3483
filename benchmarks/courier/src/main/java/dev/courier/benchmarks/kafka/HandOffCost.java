package dev.courier.benchmarks.kafka;

import dev.courier.reliability.offset.HandlerExecutors;
import dev.courier.reliability.offset.OffsetCommitCoordinator;
import dev.courier.reliability.offset.OrderingMode;
import dev.courier.reliability.offset.PartitionId;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * The coordinator's cost per record across threads, without a broker: a feeding thread plays the
 * poll thread (each poll of 500 records decodes them from a buffer as a consumer does: a CRC32C of
 * the batch, a fresh key string and a fresh 1 KiB value per record), hands every poll to
 * {@code submitAll} in KEY mode and runs {@code pollCommits}; handlers are no-ops on the
 * coordinator's own pool (platform threads on JDK 17; {@code executor=platform} hands it a pool of
 * the same kind instead, {@code executor=one} a pool of one thread). It prints per round the CPU per record of the feeding thread
 * and of the pool's threads, and the rate. The feeding thread's decoding is the same in every
 * run, so changes of the coordinator show in the pool's CPU and in the feeder's above that.
 * Compare code changes in alternating runs; the machine is shared.
 *
 * <p>System properties: {@code records} (2,000,000 per round), {@code rounds} (6),
 * {@code concurrency} (1), {@code executor} ({@code owned}).
 */
public final class HandOffCost {

    private record Polled(long offset, String key, byte[] value) {
    }

    private HandOffCost() {
    }

    public static void main(String[] args) throws InterruptedException {
        int records = Integer.getInteger("records", 2_000_000);
        int rounds = Integer.getInteger("rounds", 6);
        int concurrency = Integer.getInteger("concurrency", 1);
        int batch = 500;
        int partitions = 6;
        byte[][] keys = new byte[1000][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = ("key-" + i).getBytes(StandardCharsets.UTF_8);
        }
        byte[] wire = new byte[batch * 1024];
        new Random(7).nextBytes(wire);
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (int round = 1; round <= rounds; round++) {
            AtomicInteger seen = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(1);
            // owned: the coordinator makes its pool, as the Kafka binding's subscriptions do; platform: the same
            // kind of pool handed in (a caller's executor: loops give their thread back every 64 records)
            String kind = System.getProperty("executor", "owned");
            ExecutorService pool = switch (kind) {
                case "owned" -> null;
                case "platform" -> HandlerExecutors.platformThreads(concurrency, "handoff-");
                case "one" -> HandlerExecutors.platformThreads(1, "handoff-");
                default -> throw new IllegalArgumentException("executor=" + kind + ": use owned, platform or one");
            };
            OffsetCommitCoordinator.Builder<Polled> builder = OffsetCommitCoordinator.<Polled>builder(r -> {
                        if (seen.incrementAndGet() == records) {
                            done.countDown();
                        }
                        return CompletableFuture.completedFuture(null);
                    }, (r, e) -> {
                        throw new IllegalStateException("no record fails here", e);
                    })
                    .ordering(OrderingMode.KEY).maxConcurrency(concurrency).maxInFlight(2048)
                    .threadNamePrefix("handoff-").commitInterval(Duration.ofMillis(500));
            if (pool != null) {
                builder.executor(pool);
            }
            OffsetCommitCoordinator<Polled> coordinator = builder.build();
            Map<Long, long[]> before = Cpu.threads();
            long feeder0 = threads.getCurrentThreadCpuTime();
            long wall0 = System.nanoTime();
            long[] next = new long[partitions];
            Random random = new Random(round);
            CRC32C crc = new CRC32C();
            long checksum = 0;
            for (int fed = 0; fed < records; fed += batch) {
                // back-pressure as the binding applies it: no more polls while the coordinator holds its bound
                while (coordinator.heldRecords() >= 2048) {
                    Thread.onSpinWait();
                }
                int p = (fed / batch) % partitions;
                crc.reset();
                crc.update(wire, 0, wire.length);
                checksum += crc.getValue();
                List<Polled> polled = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++) {
                    byte[] value = new byte[1024];
                    System.arraycopy(wire, i * 1024, value, 0, 1024);
                    String key = new String(keys[random.nextInt(keys.length)], StandardCharsets.UTF_8);
                    polled.add(new Polled(next[p]++, key, value));
                }
                coordinator.submitAll(PartitionId.of("handoff", p), polled, Polled::offset, Polled::key, r -> r);
                coordinator.pollCommits(System.nanoTime());
            }
            long feeder = threads.getCurrentThreadCpuTime() - feeder0;
            if (!done.await(2, TimeUnit.MINUTES)) {
                throw new IllegalStateException("only " + seen.get() + " of " + records + " records handled");
            }
            long wall = System.nanoTime() - wall0;
            Map<Long, long[]> after = Cpu.threads();
            long poolCpu = 0;
            for (Map.Entry<Long, long[]> e : after.entrySet()) {
                java.lang.management.ThreadInfo info = threads.getThreadInfo(e.getKey());
                if (info != null && info.getThreadName().startsWith("handoff-")) {
                    poolCpu += e.getValue()[0] - before.getOrDefault(e.getKey(), new long[2])[0];
                }
            }
            coordinator.close(Duration.ZERO);
            if (pool != null) {
                pool.shutdownNow();
            }
            System.out.printf(Locale.ROOT, "round %d: feeder %.1f ns, loops %.1f ns of CPU per record; %,.0f records/s (checksum %d)%n",
                    round, feeder / (double) records, poolCpu / (double) records, records / (wall / 1e9), checksum % 1000);
        }
    }
}
