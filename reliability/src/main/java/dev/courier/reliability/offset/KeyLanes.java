package dev.courier.reliability.offset;

/**
 * {@link OrderingMode#KEY}: one lane per key within a partition, kept as a singly linked list
 * threaded through the {@link RecordRing}'s primitive link array (no node objects).
 *
 * <p>Which keys have a lane, and each lane's tail, live in an open-addressing table of three
 * parallel arrays (key, hash, tail; linear probing, at most half full, deletion by shifting back),
 * so a record's admission allocates nothing: no map entry, no lane object. The ring's per-record
 * lane slots hold the record's key and its hash, which find the lane again when the record
 * finishes. A lane exists only while it has unfinished records, so the table holds at most one
 * entry per distinct key in flight; it grows with that number and, after a burst, shrinks back to
 * {@value #KEEP_CAPACITY} slots. {@code null} keys share a single lane.
 *
 * <p>A record admitted while no key has a lane does not enter the table and its key is not
 * hashed: it is the partition's only unfinished record, so nothing can wait behind it yet. It
 * becomes a table entry (its key hashed then) only if another record is admitted before it
 * finishes. Records are admitted as loops need them, so with handlers that keep up, one at a time,
 * no key is ever hashed or compared: a loop reads a record's key, and the string behind it, only
 * when two records of the partition are unfinished at once.
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

    private static final int MIN_CAPACITY = 16;
    /**
     * The table shrinks (after a burst of many keys) only down to this: a poll's worth of keys
     * arrives and leaves again all the time, and growing and shrinking for each poll cost more
     * than the table's few kilobytes.
     */
    static final int KEEP_CAPACITY = 1024;

    private Object[] keys = new Object[MIN_CAPACITY];
    /** Each key's spread hash, compared before {@code equals} and used when entries move. */
    private int[] hashes = new int[MIN_CAPACITY];
    /** The sequence number of each lane's last record. */
    private long[] tails = new long[MIN_CAPACITY];
    private int size;

    @Override
    public boolean keyed() {
        return true;
    }

    /**
     * The record admitted while no key had a lane, not in the table and its key not hashed; -1 if
     * none. Only ever set while the table is empty.
     */
    private long loneSeq = -1;

    @Override
    public boolean admit(RecordRing ring, long seq, Object key) {
        Object laneKey = key == null ? NULL_KEY : key;
        ring.link(seq, -1);
        if (size == 0 && loneSeq < 0) {
            ring.lane(seq, laneKey, 0);
            loneSeq = seq;
            return true;
        }
        if (loneSeq >= 0) {
            // a second unfinished record: the lone one's lane goes into the (empty) table first
            long lone = loneSeq;
            loneSeq = -1;
            Object loneKey = ring.lane(lone);
            int loneHash = hash(loneKey);
            ring.lane(lone, loneKey, loneHash);
            put(loneHash & (keys.length - 1), loneKey, loneHash, lone);
        }
        int hash = hash(laneKey);
        ring.lane(seq, laneKey, hash);
        int mask = keys.length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask) {
            Object k = keys[i];
            if (k == null) {
                put(i, laneKey, hash, seq);
                return true;
            }
            if (k == laneKey || (hashes[i] == hash && k.equals(laneKey))) {
                // The lane's tail is unfinished (finished records leave their lane in order), so it
                // is still in the ring and its link slot is valid.
                ring.link(tails[i], seq);
                tails[i] = seq;
                return false;
            }
        }
    }

    /** Adds a lane at the free slot {@code i}, its tail {@code seq}. */
    private void put(int i, Object laneKey, int hash, long seq) {
        keys[i] = laneKey;
        hashes[i] = hash;
        tails[i] = seq;
        if (++size > keys.length >>> 1) {
            resize(keys.length << 1);
        }
    }

    /**
     * A lane key's hash: its {@code hashCode}, spread (Fibonacci hashing, the product's high half
     * folded into the low bits a table mask keeps), so keys whose hashes differ only in their high
     * bits or form runs ("key-1", "key-2") spread out. 0 for the null key's lane.
     */
    private static int hash(Object laneKey) {
        if (laneKey == NULL_KEY) {
            return 0;
        }
        int h = laneKey.hashCode() * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    @Override
    public long release(RecordRing ring, long seq) {
        if (seq == loneSeq) {
            // nothing was admitted behind it (that would have put it in the table)
            loneSeq = -1;
            ring.lane(seq, null);
            return -1;
        }
        Object laneKey = ring.lane(seq);
        long next = ring.link(seq);
        if (next < 0) {
            remove(laneKey, ring.laneHash(seq));
        }
        ring.lane(seq, null);
        return next;
    }

    /** How many keys currently have unfinished records; for tests. */
    int activeKeys() {
        return size + (loneSeq >= 0 ? 1 : 0);
    }

    /** For tests: the table's current capacity. */
    int capacity() {
        return keys.length;
    }

    private void remove(Object laneKey, int hash) {
        int mask = keys.length - 1;
        int i = hash & mask;
        while (keys[i] != laneKey && (hashes[i] != hash || !laneKey.equals(keys[i]))) {
            i = (i + 1) & mask;
        }
        // Shift back the entries after the gap that would no longer be found from their home slot.
        int gap = i;
        for (int j = (gap + 1) & mask; keys[j] != null; j = (j + 1) & mask) {
            int home = hashes[j] & mask;
            // j's entry may fill the gap only if its home slot is not in (gap, j] (cyclically)
            if (((j - home) & mask) >= ((j - gap) & mask)) {
                keys[gap] = keys[j];
                hashes[gap] = hashes[j];
                tails[gap] = tails[j];
                gap = j;
            }
        }
        keys[gap] = null;
        size--;
        if (keys.length > KEEP_CAPACITY && size < keys.length >>> 3) {
            resize(keys.length >>> 1);
        }
    }

    private void resize(int capacity) {
        Object[] oldKeys = keys;
        int[] oldHashes = hashes;
        long[] oldTails = tails;
        keys = new Object[capacity];
        hashes = new int[capacity];
        tails = new long[capacity];
        int mask = capacity - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            Object k = oldKeys[i];
            if (k != null) {
                int j = oldHashes[i] & mask;
                while (keys[j] != null) {
                    j = (j + 1) & mask;
                }
                keys[j] = k;
                hashes[j] = oldHashes[i];
                tails[j] = oldTails[i];
            }
        }
    }
}
