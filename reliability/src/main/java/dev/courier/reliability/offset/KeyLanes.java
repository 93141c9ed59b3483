package dev.courier.reliability.offset;

import java.util.HashMap;
import java.util.Map;

/**
 * {@link OrderingMode#KEY}: one lane per key within a partition, kept as a singly linked list
 * threaded through the {@link RecordRing}'s primitive link array (no node objects).
 *
 * <p>A lane exists only while it has unfinished records, so the map holds at most one entry per
 * distinct key currently in flight. {@code null} keys share a single lane.
 *
 * <p>Not thread-safe: called under the owning {@link PartitionTrack}'s lock.
 */
final class KeyLanes implements OrderingLanes {

    /** Stands in for the null key, since all null-keyed records of a partition share a lane. */
    private static final Object NULL_KEY = new Object() {
        @Override
        public String toString() {
            return "<null key>";
        }
    };

    private final Map<Object, Lane> lanes = new HashMap<>();

    @Override
    public boolean admit(RecordRing ring, long seq, Object key) {
        Object laneKey = key == null ? NULL_KEY : key;
        ring.link(seq, -1);
        Lane lane = lanes.get(laneKey);
        if (lane == null) {
            lane = new Lane(laneKey, seq);
            lanes.put(laneKey, lane);
            ring.lane(seq, lane);
            return true;
        }
        // The lane's tail is unfinished (finished records leave their lane in order), so it is
        // still in the ring and its link slot is valid.
        ring.link(lane.tail, seq);
        lane.tail = seq;
        ring.lane(seq, lane);
        return false;
    }

    @Override
    public long release(RecordRing ring, long seq) {
        Lane lane = (Lane) ring.lane(seq);
        long next = ring.link(seq);
        ring.lane(seq, null);
        if (next < 0) {
            lanes.remove(lane.key);
        }
        return next;
    }

    /** How many keys currently have unfinished records; for tests. */
    int activeKeys() {
        return lanes.size();
    }

    private static final class Lane {
        final Object key;
        long tail;

        Lane(Object key, long tail) {
            this.key = key;
            this.tail = tail;
        }
    }
}
