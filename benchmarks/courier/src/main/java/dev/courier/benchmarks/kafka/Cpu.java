package dev.courier.benchmarks.kafka;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * CPU time used by the benchmark JVM and by the broker process. On a shared machine the wall clock
 * of one run moves by tens of percent with the load of others; the CPU time a side spends per
 * record moves much less, so the tables report it beside the rates.
 */
final class Cpu {

    private final ProcessHandle broker;

    /** @param brokerPid the broker's process id, or -1 when the broker is not ours to watch */
    Cpu(long brokerPid) {
        this.broker = brokerPid > 0 ? ProcessHandle.of(brokerPid).orElse(null) : null;
    }

    /** CPU nanoseconds used so far: [this JVM, broker (0 when unknown)]. */
    long[] now() {
        return new long[] {nanos(ProcessHandle.current()), broker == null ? 0 : nanos(broker)};
    }

    private static long nanos(ProcessHandle p) {
        return p.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Allocated bytes per thread, where the JVM counts them (HotSpot does). */
    private static final com.sun.management.ThreadMXBean ALLOCATION =
            THREADS instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported() ? t : null;

    /** CPU nanoseconds and bytes allocated so far of every live Java thread, by thread id. */
    static Map<Long, long[]> threads() {
        Map<Long, long[]> cpu = new LinkedHashMap<>();
        for (long id : THREADS.getAllThreadIds()) {
            long nanos = THREADS.getThreadCpuTime(id);
            if (nanos >= 0) {
                cpu.put(id, new long[] {nanos, ALLOCATION == null ? 0 : Math.max(0, ALLOCATION.getThreadAllocatedBytes(id))});
            }
        }
        return cpu;
    }

    /**
     * Where the benchmark JVM's CPU went between two snapshots, in microseconds per record, by kind
     * of thread: Courier's worker loops and poll threads, the Kafka clients' network threads, the
     * benchmark's main thread, other Java threads, and the rest of the process (garbage collection,
     * the JIT compilers). Threads that ended in between are missed (their time shows as "VM").
     * After a semicolon, the bytes each kind of thread allocated per record: objects one thread makes
     * and another reads later (a publish's stage, made by the caller and settled on the client's I/O
     * thread) cost that thread a cache miss each, and the more a thread allocates per record, the
     * further apart they lie.
     */
    static String breakdown(Map<Long, long[]> before, Map<Long, long[]> after, long processNanos, int records) {
        String[] kinds = {"loops", "poll", "network", "main", "other"};
        Map<String, Long> byKind = new LinkedHashMap<>();
        Map<String, Long> allocated = new LinkedHashMap<>();
        for (String kind : kinds) {
            byKind.put(kind, 0L);
            allocated.put(kind, 0L);
        }
        long javaThreads = 0;
        for (Map.Entry<Long, long[]> e : after.entrySet()) {
            long[] was = before.getOrDefault(e.getKey(), new long[2]);
            long used = e.getValue()[0] - was[0];
            ThreadInfo info = THREADS.getThreadInfo(e.getKey());
            if (info == null || used <= 0) {
                continue;
            }
            javaThreads += used;
            String kind = kindOf(info.getThreadName());
            byKind.merge(kind, used, Long::sum);
            allocated.merge(kind, e.getValue()[1] - was[1], Long::sum);
        }
        byKind.put("VM", Math.max(0, processNanos - javaThreads));
        StringBuilder line = new StringBuilder();
        for (Map.Entry<String, Long> e : byKind.entrySet()) {
            line.append(line.length() == 0 ? "" : ", ").append(e.getKey()).append(' ')
                    .append(String.format(java.util.Locale.ROOT, "%.2f", e.getValue() / 1e3 / records));
        }
        if (ALLOCATION != null) {
            line.append("; allocated B/record:");
            for (String kind : kinds) {
                line.append(kind.equals("loops") ? " " : ", ").append(kind).append(' ').append(allocated.get(kind) / records);
            }
        }
        return line.toString();
    }

    private static String kindOf(String name) {
        if (name.startsWith("courier-kafka-handler") || name.startsWith("courier-handler")) {
            return "loops";
        }
        if (name.startsWith("courier-kafka-")) {
            return "poll";
        }
        if (name.startsWith("consumer_background") || name.startsWith("kafka-producer-network")) {
            return "network";
        }
        return name.equals("main") ? "main" : "other";
    }
}
