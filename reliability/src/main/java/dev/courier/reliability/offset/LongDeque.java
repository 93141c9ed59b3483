package dev.courier.reliability.offset;

/**
 * A growable double-ended queue of primitive {@code long}s (record sequence numbers), so queuing a
 * runnable record allocates nothing.
 *
 * <p>Not thread-safe: {@link PartitionTrack} guards it with its lock.
 */
final class LongDeque {

    private static final int MIN_CAPACITY = 16;

    private long[] elements = new long[MIN_CAPACITY];
    private int first;
    private int size;

    void addLast(long value) {
        ensureRoom();
        elements[(first + size) & (elements.length - 1)] = value;
        size++;
    }

    void addFirst(long value) {
        ensureRoom();
        first = (first - 1) & (elements.length - 1);
        elements[first] = value;
        size++;
    }

    /** Removes and returns the first value; the deque must not be empty. */
    long removeFirst() {
        if (size == 0) {
            throw new IllegalStateException("removeFirst on an empty deque");
        }
        long value = elements[first];
        first = (first + 1) & (elements.length - 1);
        size--;
        if (size == 0 && elements.length > MIN_CAPACITY * 64) {
            // A burst is over; give the memory back.
            elements = new long[MIN_CAPACITY];
            first = 0;
        }
        return value;
    }

    boolean isEmpty() {
        return size == 0;
    }

    int size() {
        return size;
    }

    void clear() {
        elements = new long[MIN_CAPACITY];
        first = 0;
        size = 0;
    }

    private void ensureRoom() {
        if (size < elements.length) {
            return;
        }
        long[] grown = new long[elements.length << 1];
        for (int i = 0; i < size; i++) {
            grown[i] = elements[(first + i) & (elements.length - 1)];
        }
        elements = grown;
        first = 0;
    }
}
