package dev.courier.reliability.offset;

/**
 * How much processing order the {@link OffsetCommitCoordinator} preserves within a partition.
 *
 * <p>Whatever the mode, commits only ever cover the contiguous prefix of finished records, so the
 * mode trades ordering for parallelism, never safety.
 */
public enum OrderingMode {

    /** One record at a time per partition, in offset order. Partitions run in parallel. */
    PARTITION,

    /**
     * Records with the same key run one at a time in offset order; different keys of the same
     * partition run in parallel. Records with a {@code null} key share one lane per partition: they
     * run one at a time, in offset order, as if they all had the same key. That keeps unkeyed
     * records as ordered as the producer wrote them instead of silently reordering them.
     */
    KEY,

    /** Any record may run as soon as a concurrency permit is free; no ordering at all. */
    UNORDERED
}
