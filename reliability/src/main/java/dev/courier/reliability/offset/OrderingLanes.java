package dev.courier.reliability.offset;

/**
 * Decides, per partition, which submitted record may run next under an {@link OrderingMode}.
 *
 * <p>A lane is a run of records that must execute one at a time in offset order (a key's records,
 * or a whole partition's). Only the head of a lane is ever runnable, so records queued behind
 * their key take no concurrency permit. Both operations are O(1).
 *
 * <p>Not thread-safe: called under the owning {@link PartitionTrack}'s lock.
 */
interface OrderingLanes {

    /**
     * Places a newly appended record in its lane.
     *
     * @return true if the record may run now, false if it waits behind an earlier one
     */
    boolean admit(RecordRing ring, long seq, Object key);

    /** Whether lanes depend on the key at all; if not, callers need not read keys. */
    default boolean keyed() {
        return false;
    }

    /**
     * Takes a record that just finished out of its lane.
     *
     * @return the sequence number of the record that may run next, or -1 if none
     */
    long release(RecordRing ring, long seq);

    /** Creates the lanes for a mode; one instance per partition assignment. */
    static OrderingLanes of(OrderingMode mode) {
        switch (mode) {
            case PARTITION:
                return new PartitionLane();
            case KEY:
                return new KeyLanes();
            case UNORDERED:
                return new NoLanes();
            default:
                throw new IllegalArgumentException("unknown ordering mode " + mode);
        }
    }

    /** {@link OrderingMode#UNORDERED}: every record is runnable on arrival. */
    final class NoLanes implements OrderingLanes {
        @Override
        public boolean admit(RecordRing ring, long seq, Object key) {
            return true;
        }

        @Override
        public long release(RecordRing ring, long seq) {
            return -1;
        }
    }

    /**
     * {@link OrderingMode#PARTITION}: the whole partition is one lane. Records finish strictly in
     * submission order, so the successor of a finished record is simply the next sequence number.
     */
    final class PartitionLane implements OrderingLanes {
        private boolean busy;

        @Override
        public boolean admit(RecordRing ring, long seq, Object key) {
            if (busy) {
                return false;
            }
            busy = true;
            return true;
        }

        @Override
        public long release(RecordRing ring, long seq) {
            if (seq + 1 < ring.tail()) {
                return seq + 1;
            }
            busy = false;
            return -1;
        }
    }
}
