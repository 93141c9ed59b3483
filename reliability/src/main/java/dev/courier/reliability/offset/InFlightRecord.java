package dev.courier.reliability.offset;

/**
 * A record that has been dispatched to the {@link RecordProcessor} at least once: what the {@link
 * FailureHandler} receives and passes back to {@link OffsetCommitCoordinator#retry} or {@link
 * OffsetCommitCoordinator#markDone}.
 *
 * <p>It belongs to one assignment (generation) of its partition. Once that partition is revoked or
 * lost, the handle goes stale: retry and markDone on it return {@code false} and change nothing,
 * even if the partition has been assigned again since. Finding the record again is O(1) because
 * the handle carries its position in the partition's record ring.
 *
 * <p>Thread-safe to read and to pass between threads. Identity-based equality.
 *
 * @param <R> the record type handed through the coordinator untouched
 */
public final class InFlightRecord<R> {

    private final PartitionTrack<R> track;
    private final long seq;
    private final long offset;
    private final R record;
    /** Dispatches before the current one; left at its default (no volatile write per record). */
    private volatile int retries;

    InFlightRecord(PartitionTrack<R> track, long seq, long offset, R record) {
        this.track = track;
        this.seq = seq;
        this.offset = offset;
        this.record = record;
    }

    /** The partition the record came from. */
    public PartitionId partition() {
        return track.partition();
    }

    /** The record's offset in its partition. */
    public long offset() {
        return offset;
    }

    /** The payload given at submit. */
    public R record() {
        return record;
    }

    /** Which attempt this is: 1 for the first dispatch, plus one for every {@code retry}. */
    public int attempt() {
        return retries + 1;
    }

    /** The assignment generation of the partition this record belongs to. */
    public long generation() {
        return track.generation();
    }

    PartitionTrack<R> track() {
        return track;
    }

    long seq() {
        return seq;
    }

    /** Called under the track's lock when the record is dispatched again. */
    void nextAttempt() {
        retries++;
    }

    @Override
    public String toString() {
        return partition() + "@" + offset + " (attempt " + attempt() + ", generation " + generation() + ")";
    }
}
