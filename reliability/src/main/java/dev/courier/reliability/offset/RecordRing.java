package dev.courier.reliability.offset;

import java.util.Arrays;

/**
 * The records of one partition that are still held (submitted and not yet below the commit
 * watermark), in submission order, stored in parallel primitive arrays.
 *
 * <p>Every submitted record gets a sequence number, counting up from 0 without gaps even when the
 * broker's offsets have gaps. The record lives at array index {@code seq & mask}; growing and
 * shrinking keep that mapping, so a sequence number handed to a handler stays valid and finding a
 * record again is O(1). Memory per record is a {@code long} offset, a {@code byte} state and one
 * reference, plus a {@code long} link, a reference and an {@code int} hash for key lanes in
 * {@link OrderingMode#KEY}; there is no object per record.
 *
 * <p>Not thread-safe: {@link PartitionTrack} guards it with its lock.
 */
final class RecordRing {

    /** Waiting behind an earlier record of its key or partition; not runnable yet. */
    static final byte WAITING = 0;
    /** Runnable and never dispatched; the slot's item is the record payload. */
    static final byte READY = 1;
    /** Runnable again after a failure; the slot's item is its {@link InFlightRecord}. */
    static final byte READY_AGAIN = 2;
    /** Its handler is running. */
    static final byte RUNNING = 3;
    /** Its handler failed; waiting for retry or markDone. */
    static final byte FAILED = 4;
    /** Finished (terminal). */
    static final byte DONE = 5;
    /** Given up during a revocation; never finishes, so it pins the final watermark. */
    static final byte ABANDONED = 6;

    private final int initialCapacity;
    /** The capacity the ring shrinks no further than. */
    private final int minCapacity;
    private final boolean withLanes;
    private long[] offsets;
    private byte[] states;
    private Object[] items;
    private long[] links;
    private Object[] lanes;
    private int[] laneHashes;
    private int mask;
    private long head;
    private long tail;

    /**
     * @param minCapacity initial and smallest capacity; rounded up to a power of two
     * @param withLanes   whether to keep the per-record key-lane link and lane reference
     */
    RecordRing(int minCapacity, boolean withLanes) {
        this(minCapacity, minCapacity, withLanes);
    }

    /**
     * @param minCapacity  initial capacity; rounded up to a power of two
     * @param keepCapacity the ring shrinks no further than this (nor below minCapacity), so a
     *                     partition that takes a poll's worth of records again and again does not
     *                     grow and shrink its arrays for every poll
     * @param withLanes    whether to keep the per-record key-lane link and lane reference
     */
    RecordRing(int minCapacity, int keepCapacity, boolean withLanes) {
        this.initialCapacity = Integer.highestOneBit(Math.max(2, minCapacity - 1)) << 1;
        this.minCapacity = Math.max(initialCapacity, Integer.highestOneBit(Math.max(2, keepCapacity - 1)) << 1);
        this.withLanes = withLanes;
        allocate(initialCapacity);
    }

    /** Adds a record at the tail and returns its sequence number. */
    long append(long offset, byte state, Object item) {
        if (size() == capacity()) {
            resize(capacity() << 1);
        }
        long seq = tail++;
        int i = index(seq);
        offsets[i] = offset;
        states[i] = state;
        items[i] = item;
        return seq;
    }

    /**
     * Drops the finished prefix: advances the head past every {@link #DONE} record. Each record is
     * passed once over its life, so this is amortised O(1) per record.
     *
     * @return how many records were dropped
     */
    int sweepDone() {
        long start = head;
        while (head < tail && states[index(head)] == DONE) {
            int i = index(head);
            items[i] = null;
            if (withLanes) {
                lanes[i] = null;
            }
            head++;
        }
        // Shrinking once at most a quarter full, to where it is at most half full, keeps resize
        // work amortised O(1) and gives memory back after a burst of a million held records. One
        // sweep can drop most of the ring, so shrink as far as that allows in one step.
        int target = capacity();
        while (target > minCapacity && size() <= target >>> 2) {
            target >>>= 1;
        }
        if (target != capacity()) {
            resize(target);
        }
        return (int) (head - start);
    }

    boolean holds(long seq) {
        return seq >= head && seq < tail;
    }

    long head() {
        return head;
    }

    long tail() {
        return tail;
    }

    int size() {
        return (int) (tail - head);
    }

    int capacity() {
        return mask + 1;
    }

    long offset(long seq) {
        return offsets[index(seq)];
    }

    byte state(long seq) {
        return states[index(seq)];
    }

    void state(long seq, byte state) {
        states[index(seq)] = state;
    }

    Object item(long seq) {
        return items[index(seq)];
    }

    void item(long seq, Object item) {
        items[index(seq)] = item;
    }

    long link(long seq) {
        return links[index(seq)];
    }

    void link(long seq, long next) {
        links[index(seq)] = next;
    }

    Object lane(long seq) {
        return lanes[index(seq)];
    }

    void lane(long seq, Object lane) {
        lanes[index(seq)] = lane;
    }

    /** The hash {@link KeyLanes} filed the record's lane under, so finding the lane again never reads the key. */
    int laneHash(long seq) {
        return laneHashes[index(seq)];
    }

    void lane(long seq, Object lane, int hash) {
        int i = index(seq);
        lanes[i] = lane;
        laneHashes[i] = hash;
    }

    /** Forgets every record and returns to the initial capacity. */
    void clear() {
        head = tail;
        allocate(initialCapacity);
    }

    /** The arrays holding per-record data, exposed so tests can check their element types. */
    Object[] storage() {
        return withLanes
                ? new Object[] {offsets, states, items, links, lanes, laneHashes}
                : new Object[] {offsets, states, items};
    }

    private int index(long seq) {
        return (int) seq & mask;
    }

    private void allocate(int capacity) {
        offsets = new long[capacity];
        states = new byte[capacity];
        items = new Object[capacity];
        links = withLanes ? new long[capacity] : null;
        lanes = withLanes ? new Object[capacity] : null;
        laneHashes = withLanes ? new int[capacity] : null;
        mask = capacity - 1;
    }

    private void resize(int capacity) {
        if (capacity <= 0) {
            throw new IllegalStateException("a partition cannot hold more than 2^30 records at once");
        }
        long[] oldOffsets = offsets;
        byte[] oldStates = states;
        Object[] oldItems = items;
        long[] oldLinks = links;
        Object[] oldLanes = lanes;
        int[] oldLaneHashes = laneHashes;
        int oldMask = mask;
        allocate(capacity);
        for (long seq = head; seq < tail; seq++) {
            int from = (int) seq & oldMask;
            int to = index(seq);
            offsets[to] = oldOffsets[from];
            states[to] = oldStates[from];
            items[to] = oldItems[from];
            if (withLanes) {
                links[to] = oldLinks[from];
                lanes[to] = oldLanes[from];
                laneHashes[to] = oldLaneHashes[from];
            }
        }
    }

    @Override
    public String toString() {
        return "RecordRing[head=" + head + ", tail=" + tail + ", capacity=" + capacity() + ", states="
                + Arrays.toString(Arrays.copyOf(states, Math.min(16, states.length))) + "...]";
    }
}
