package dev.courier.benchmarks.kafka;

import java.time.Duration;

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
}
