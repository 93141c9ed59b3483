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

    /** CPU nanoseconds so far of every live Java thread, by thread id. */
    static Map<Long, Long> threads() {
        Map<Long, Long> cpu = new LinkedHashMap<>();
        for (long id : THREADS.getAllThreadIds()) {
            long nanos = THREADS.getThreadCpuTime(id);
            if (nanos >= 0) {
                cpu.put(id, nanos);
            }
        }
        return cpu;
    }

    /**
     * Where the benchmark JVM's CPU went between two snapshots, in microseconds per record, by kind
     * of thread: Courier's worker loops and poll threads, the Kafka clients' network threads, the
     * benchmark's main thread, other Java threads, and the rest of the process (garbage collection,
     * the JIT compilers). Threads that ended in between are missed (their time shows as "VM").
     */
    static String breakdown(Map<Long, Long> before, Map<Long, Long> after, long processNanos, int records) {
        Map<String, Long> byKind = new LinkedHashMap<>();
        for (String kind : new String[] {"loops", "poll", "network", "main", "other"}) {
            byKind.put(kind, 0L);
        }
        long javaThreads = 0;
        for (Map.Entry<Long, Long> e : after.entrySet()) {
            long used = e.getValue() - before.getOrDefault(e.getKey(), 0L);
            ThreadInfo info = THREADS.getThreadInfo(e.getKey());
            if (info == null || used <= 0) {
                continue;
            }
            javaThreads += used;
            byKind.merge(kindOf(info.getThreadName()), used, Long::sum);
        }
        byKind.put("VM", Math.max(0, processNanos - javaThreads));
        StringBuilder line = new StringBuilder();
        for (Map.Entry<String, Long> e : byKind.entrySet()) {
            line.append(line.length() == 0 ? "" : ", ").append(e.getKey()).append(' ')
                    .append(String.format(java.util.Locale.ROOT, "%.2f", e.getValue() / 1e3 / records));
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
