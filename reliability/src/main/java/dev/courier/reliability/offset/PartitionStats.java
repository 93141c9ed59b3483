package dev.courier.reliability.offset;

/**
 * A point-in-time view of one assigned partition, for lag dashboards and logs.
 *
 * <p>Immutable snapshot; the numbers are mutually consistent (taken under the partition's lock)
 * but may be stale by the time they are read.
 *
 * @param partition         the partition
 * @param generation        which assignment of the partition this is; grows on every reassignment
 * @param committedOffset   the highest offset confirmed committed during this assignment through
 *                          {@link OffsetCommitCoordinator#onCommitted}, or -1 if none yet
 * @param committableOffset the offset that would be committed now (the first unfinished submitted
 *                          offset, or the last submitted offset + 1 when all are finished), or -1
 *                          before the first record of this assignment
 * @param held              records accepted and not yet below the committable offset; this is what
 *                          the in-flight bound counts
 * @param queued            records waiting for their key, their partition or a concurrency permit
 * @param running           records whose handler is running now
 * @param failed            records whose handler failed and that await retry or markDone
 */
public record PartitionStats(
        PartitionId partition,
        long generation,
        long committedOffset,
        long committableOffset,
        int held,
        int queued,
        int running,
        int failed) {
}
