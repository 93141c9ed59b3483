package dev.courier.reliability.offset;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Everything the coordinator knows about one assignment (generation) of one partition: the held
 * records, which of them may run, the commit watermark and commit bookkeeping.
 *
 * <p>A new track is created for every assignment and never reused, so a completion that arrives
 * after its partition was revoked or lost finds its own, closed track and changes nothing; it can
 * never touch the records of a later assignment of the same partition.
 *
 * <p>Thread-safe: every method takes this partition's lock, so completions of different partitions
 * never contend. All operations are O(1) apart from the amortised sweep of the finished prefix.
 */
final class PartitionTrack<R> {

    /** What a completion did. */
    enum Outcome {
        /** The partition was revoked or lost in the meantime; nothing changed. */
        STALE,
        /** The record is finished. */
        DONE,
        /** The record failed and now waits for retry or markDone. */
        FAILED
    }

    /**
     * A partition's ring shrinks no further than this after a burst: a poll's worth of records
     * (500 by default) arrives while part of the one before is still held, and resizing for every
     * poll cost a tenth of a worker loop's time (at 512 slots, the ring still doubled and halved
     * about once a poll). At most about 30 KB per partition, and only for one that held more than
     * its initial capacity.
     */
    static final int KEEP_CAPACITY = 1024;

    private final PartitionId partition;
    private final long generation;
    private final Object owner;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition settled = lock.newCondition();
    private final RecordRing ring;
    private final OrderingLanes lanes;
    private final LongDeque ready = new LongDeque();
    /**
     * {@code ready.size()}, readable without the lock: how many more loops could be busy here. A
     * hint, so it is written with release semantics ({@link #READY_SIZE}) rather than as a volatile
     * write: two full fences per record otherwise.
     */
    @SuppressWarnings("unused") // written and read through READY_SIZE
    private volatile int readySize;
    private static final VarHandle READY_SIZE;

    static {
        try {
            READY_SIZE = MethodHandles.lookup().findVarHandle(PartitionTrack.class, "readySize", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private final Queue<PartitionTrack<R>> readyTracks;
    private final AtomicLong heldTotal;

    /**
     * Whether this track sits in the dispatcher's ready queue (or is being served from it). Set by
     * compare-and-set, because the poll thread queues the track for new batches without the lock.
     */
    private final AtomicBoolean inReadyTracks = new AtomicBoolean();
    /**
     * Polled batches not yet placed in the ring and their lanes. {@link #appendAll} only queues a
     * batch here, without the lock, so the poll thread does no per-record work for the coordinator.
     * Worker loops admit the records in order, under the lock, one at a time as they need a
     * runnable record ({@link #admitUntilRunnable}).
     */
    private final Queue<Batch<?, R>> inbox = new ConcurrentLinkedQueue<>();
    /**
     * The batch taken from the inbox whose records are being admitted, or null. Under the lock.
     * Its records not admitted yet are pending like those of the inbox.
     */
    private Batch<?, R> admitting;
    /** Records in {@link #inbox} and in {@link #admitting} (admitted ones included until it is done). */
    private final AtomicInteger inboxRecords = new AtomicInteger();
    private boolean draining;
    private volatile boolean closed;
    private volatile long startOffset = -1;
    /** The last offset placed in the ring. */
    private long lastOffset = -1;
    /** Poll thread only: the last offset submitted, in the ring or still in the inbox. */
    private long submittedLast = -1;
    private int queued;
    private int running;
    private int failed;
    private long handedOut = -1;
    private long confirmed = -1;

    /**
     * @param owner       identifies the coordinator, to reject handles from another one
     * @param readyTracks where this track announces that it has runnable records
     * @param heldTotal   the coordinator-wide count of held records, kept up to date by this track
     */
    PartitionTrack(PartitionId partition, long generation, OrderingMode mode, int initialCapacity,
            Object owner, Queue<PartitionTrack<R>> readyTracks, AtomicLong heldTotal) {
        this.partition = partition;
        this.generation = generation;
        this.owner = owner;
        this.ring = new RecordRing(initialCapacity, KEEP_CAPACITY, mode == OrderingMode.KEY);
        this.lanes = OrderingLanes.of(mode);
        this.readyTracks = readyTracks;
        this.heldTotal = heldTotal;
    }

    PartitionId partition() {
        return partition;
    }

    long generation() {
        return generation;
    }

    boolean ownedBy(Object candidate) {
        return owner == candidate;
    }

    /** Holds a newly polled record, behind any batches still in the inbox; the caller then dispatches. */
    void append(long offset, Object key, R record) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException(partition + " (generation " + generation + ") is no longer assigned");
            }
            checkAbove(offset, submittedLast);
            admitPending();
            if (startOffset < 0) {
                startOffset = offset;
            }
            submittedLast = offset;
            lastOffset = offset;
            long seq = ring.append(offset, RecordRing.WAITING, record);
            queued++;
            heldTotal.incrementAndGet();
            if (lanes.admit(ring, seq, key)) {
                makeReady(seq, false);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Holds newly polled records of this partition, in offset order. Only the offsets (each must be
     * above the one before) and, for keyed lanes, the keys are read here; the
     * records go to the inbox as one batch, and worker loops place them in the ring and their
     * lanes as they take work from this track. On a bad offset, or a key function that
     * throws, the records before it stay held and the exception is thrown. The caller then
     * dispatches.
     *
     * @throws IllegalArgumentException if an offset is negative or not above the one before
     * @throws IllegalStateException    if the partition is no longer assigned
     */
    <T> void appendAll(List<T> items, ToLongFunction<? super T> offsetOf, Function<? super T, ?> keyOf,
            Function<? super T, ? extends R> recordOf) {
        if (closed) {
            throw new IllegalStateException(partition + " (generation " + generation + ") is no longer assigned");
        }
        long last = submittedLast;
        int accepted = 0;
        // Read here, where the polled records are still in this thread's cache, rather than in the
        // worker loop that admits the batch: each record's offset, and for keyed lanes its key (a
        // reference; the key is hashed only if another record of the partition is unfinished when
        // it is admitted, see KeyLanes). The loop then reads arrays, not the polled records.
        boolean keyed = lanes.keyed();
        int n = items.size();
        Object[] polled = new Object[n];
        long[] offsets = new long[n];
        Object[] keys = keyed ? new Object[n] : null;
        RuntimeException refused = null;
        for (T item : items) {
            long offset = offsetOf.applyAsLong(item);
            try {
                checkAbove(offset, last);
                if (keyed) {
                    keys[accepted] = keyOf.apply(item);
                }
            } catch (RuntimeException e) {
                refused = e;
                break;
            }
            polled[accepted] = item;
            offsets[accepted++] = offset;
            last = offset;
        }
        if (accepted > 0) {
            if (startOffset < 0) {
                startOffset = offsets[0];
            }
            submittedLast = last;
            // counted before it is visible in the inbox, so an admitter never takes the count below zero
            inboxRecords.addAndGet(accepted);
            heldTotal.addAndGet(accepted);
            inbox.offer(new Batch<>(polled, offsets, accepted, keys, recordOf));
            if (inReadyTracks.compareAndSet(false, true)) {
                readyTracks.offer(this);
            }
        }
        if (refused != null) {
            throw refused;
        }
    }

    private void checkAbove(long offset, long last) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be between 0 and " + Long.MAX_VALUE + " (was " + offset + ")");
        }
        if (offset <= last) {
            throw new IllegalArgumentException("offset " + offset + " for " + partition
                    + " must be above the last submitted offset " + last
                    + "; offsets only increase within an assignment (use retry to process a record again)");
        }
    }

    /** Places every pending record in the ring and its lane, in order. Under the lock. */
    private void admitPending() {
        while (admitNext()) {
            // next
        }
    }

    /**
     * Places pending records in the ring and their lanes, in order, until one is runnable or none
     * is left. A record is admitted only when a loop needs work: in KEY mode a key then has a lane
     * only while one of its records is admitted and unfinished, so with handlers that keep up
     * the lane table holds the few keys that are running, not every key of the polls waiting.
     * Records behind their key are passed over (placed in its lane, taking no permit), so a
     * blocked key never hides the runnable records after it. Under the lock.
     */
    private void admitUntilRunnable() {
        while (ready.isEmpty() && admitNext()) {
            // next
        }
    }

    /**
     * Admits the next pending record, if there is one. Under the lock.
     *
     * @return false if nothing was pending
     */
    private boolean admitNext() {
        Batch<?, R> batch = admitting;
        if (batch == null) {
            batch = inbox.poll();
            if (batch == null) {
                return false;
            }
            admitting = batch;
        }
        if (batch.admitNext(this)) {
            admitting = null;
            inboxRecords.addAndGet(-batch.size);
        }
        return true;
    }

    /** Whether records wait to be admitted. Under the lock (the inbox may gain batches at any time). */
    private boolean hasPending() {
        return admitting != null || !inbox.isEmpty();
    }

    /** One polled record entering the ring: the per-record half of {@link #appendAll}. Under the lock. */
    private void admit(long offset, Object key, R record) {
        lastOffset = offset;
        long seq = ring.append(offset, RecordRing.WAITING, record);
        queued++;
        if (lanes.admit(ring, seq, key)) {
            makeReady(seq, false);
        }
    }

    /**
     * A polled batch in the inbox, with how to read its records, and their keys when
     * lanes are keyed; admitted one record at a time, under the track's lock.
     */
    private static final class Batch<T, R> {
        /** The polled records ({@code T}), their offsets and keys, by position; {@code size} of each used. */
        final Object[] items;
        final long[] offsets;
        final int size;
        final Object[] keys;
        final Function<? super T, ? extends R> recordOf;
        /** How many records were admitted. */
        int admitted;

        Batch(Object[] items, long[] offsets, int size, Object[] keys, Function<? super T, ? extends R> recordOf) {
            this.items = items;
            this.offsets = offsets;
            this.size = size;
            this.keys = keys;
            this.recordOf = recordOf;
        }

        long firstOffset() {
            return offsets[0];
        }

        /** The offset of the next record to admit; only while some are left. */
        long nextOffset() {
            return offsets[admitted];
        }

        /**
         * Admits the next record into {@code track}.
         *
         * @return true if that was the last one
         */
        @SuppressWarnings("unchecked")
        boolean admitNext(PartitionTrack<R> track) {
            int i = admitted++;
            T item = (T) items[i];
            track.admit(offsets[i], keys != null ? keys[i] : null, recordOf.apply(item));
            return admitted == size;
        }
    }

    /**
     * Hands out the next runnable record, marking it running. Called by the dispatcher after it
     * took a concurrency permit and this track from the ready queue.
     *
     * @return the record to run, or null if there is none (revoked, lost, or already taken)
     */
    InFlightRecord<R> takeReady() {
        lock.lock();
        try {
            if (closed || draining) {
                inReadyTracks.set(false);
                return null; // records not admitted yet are never run: close() forgets them, uncommitted
            }
            admitUntilRunnable();
            if (ready.isEmpty()) {
                leaveReadyTracks(); // nothing is pending either
                return null;
            }
            InFlightRecord<R> handle = takeFirstReady();
            if (ready.isEmpty() && !hasPending()) {
                leaveReadyTracks();
            } else {
                // Back of the queue: partitions take turns for permits.
                readyTracks.offer(this);
            }
            return handle;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Finishes a record that succeeded on a worker loop's thread and, under the same lock, hands
     * that loop the next runnable record of this partition, if there is one: a loop working
     * through a partition's records takes its lock once per record and leaves the dispatcher's
     * ready queue alone. The track's place in that queue does not change: it is there (or being
     * served from it) whenever it has runnable records, so other loops still find it.
     *
     * @return the record to run next, marked running, the caller's permit now its own; or null
     *         (nothing runnable here, or the partition is revoked or lost), the permit still the caller's
     */
    InFlightRecord<R> completeAndTakeNext(InFlightRecord<R> handle) {
        lock.lock();
        try {
            if (completeLocked(handle, true) == Outcome.STALE || draining) {
                return null; // revoked or lost meanwhile (nothing changed), or being handed over
            }
            admitUntilRunnable();
            return ready.isEmpty() ? null : takeFirstReady();
        } finally {
            lock.unlock();
        }
    }

    /** Takes the first runnable record and marks it running. Under the lock, with {@code ready} not empty. */
    @SuppressWarnings("unchecked")
    private InFlightRecord<R> takeFirstReady() {
        long seq = ready.removeFirst();
        READY_SIZE.setRelease(this, ready.size());
        InFlightRecord<R> handle;
        if (ring.state(seq) == RecordRing.READY_AGAIN) {
            handle = (InFlightRecord<R>) ring.item(seq);
            handle.nextAttempt();
        } else {
            handle = new InFlightRecord<>(this, seq, ring.offset(seq), (R) ring.item(seq));
        }
        // The handle now carries the payload; the ring no longer needs it.
        ring.item(seq, null);
        ring.state(seq, RecordRing.RUNNING);
        queued--;
        running++;
        return handle;
    }

    /**
     * Marks this track as out of the ready queue. A batch the poll thread queued after we looked
     * at the inbox saw the mark still set and did not queue the track: look again now it is clear.
     */
    private void leaveReadyTracks() {
        inReadyTracks.set(false);
        if (!inbox.isEmpty() && inReadyTracks.compareAndSet(false, true)) {
            readyTracks.offer(this);
        }
    }

    /** Records the end of a handler run. */
    Outcome complete(InFlightRecord<R> handle, boolean success) {
        lock.lock();
        try {
            return completeLocked(handle, success);
        } finally {
            lock.unlock();
        }
    }

    /** {@link #complete}, under the lock. */
    private Outcome completeLocked(InFlightRecord<R> handle, boolean success) {
        long seq = handle.seq();
        if (closed || !ring.holds(seq) || ring.state(seq) != RecordRing.RUNNING) {
            return Outcome.STALE;
        }
        running--;
        Outcome outcome;
        if (success) {
            finish(seq);
            outcome = Outcome.DONE;
        } else {
            ring.state(seq, RecordRing.FAILED);
            failed++;
            outcome = Outcome.FAILED;
        }
        if (draining) {
            settled.signalAll();
        }
        return outcome;
    }

    /**
     * Queues a failed record to run again, ahead of records that never ran.
     *
     * @return true if it will run again; false if its partition is gone or being revoked
     */
    boolean retry(InFlightRecord<R> handle) {
        lock.lock();
        try {
            long seq = handle.seq();
            if (!awaitsResolution(handle, "retry")) {
                return false;
            }
            failed--;
            if (draining) {
                // Its partition is being handed over; the new owner will process it again.
                ring.state(seq, RecordRing.ABANDONED);
                settled.signalAll();
                return false;
            }
            ring.item(seq, handle);
            queued++;
            makeReady(seq, true);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Marks a failed record finished (for example once its dead-letter copy was confirmed).
     *
     * @return true if it was marked; false if its partition is gone
     */
    boolean markDone(InFlightRecord<R> handle) {
        lock.lock();
        try {
            if (!awaitsResolution(handle, "markDone")) {
                return false;
            }
            failed--;
            finish(handle.seq());
            if (draining) {
                settled.signalAll();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Returns the watermark if it moved past everything handed out or confirmed, and remembers it
     * as handed out.
     *
     * @return the offset to commit, or -1 if there is nothing new
     */
    long takeCommittable() {
        lock.lock();
        try {
            if (closed) {
                return -1;
            }
            long watermark = watermark();
            if (watermark > Math.max(handedOut, Math.max(confirmed, startOffset))) {
                handedOut = watermark;
                return watermark;
            }
            return -1;
        } finally {
            lock.unlock();
        }
    }

    /** Records a successful commit; never moves the confirmed offset backwards. */
    void confirm(long offset) {
        lock.lock();
        try {
            // Above what this assignment handed out, it cannot be a commit of ours (for example a
            // late callback from an earlier assignment): ignore it rather than claim progress.
            if (offset <= handedOut && offset > confirmed) {
                confirmed = offset;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Records a failed commit so the same watermark is offered again. */
    void commitFailed(long offset) {
        lock.lock();
        try {
            // Only the latest hand-out matters: a newer pending commit covers an older failed one.
            if (offset == handedOut) {
                handedOut = confirmed;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Starts a revocation: nothing more is dispatched and runnable records are given up. */
    void beginDraining() {
        lock.lock();
        try {
            draining = true;
            while (!ready.isEmpty()) {
                ring.state(ready.removeFirst(), RecordRing.ABANDONED);
                queued--;
            }
            READY_SIZE.setRelease(this, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until no record of this partition is running or awaiting resolution, or until the
     * deadline. An interrupt ends the wait early and is kept set for the caller.
     */
    void awaitSettled(long deadlineNanos) {
        lock.lock();
        try {
            while (running + failed > 0) {
                long remaining = deadlineNanos - System.nanoTime();
                if (remaining <= 0) {
                    return;
                }
                settled.awaitNanos(Math.min(remaining, TimeUnit.SECONDS.toNanos(1)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends this assignment: forgets all held records and ignores every later completion.
     *
     * @return the final offset worth committing (progress beyond what was confirmed), or -1
     */
    long close() {
        lock.lock();
        try {
            if (closed) {
                return -1;
            }
            closed = true;
            long watermark = watermark();
            heldTotal.addAndGet(-(ring.size() + pendingRecords()));
            inboxRecords.set(0);
            admitting = null;
            ring.clear();
            inbox.clear();
            ready.clear();
            READY_SIZE.setRelease(this, 0);
            settled.signalAll();
            return watermark > Math.max(confirmed, startOffset) ? watermark : -1;
        } finally {
            lock.unlock();
        }
    }

    /** Records submitted and not admitted yet. Under the lock. */
    private int pendingRecords() {
        return inboxRecords.get() - (admitting != null ? admitting.admitted : 0);
    }

    /**
     * Records that could start now, counting batches not admitted yet as if all were runnable; read
     * without the lock, so only a hint for how many loops to start.
     */
    int runnableHint() {
        return (int) READY_SIZE.getAcquire(this) + inboxRecords.get();
    }

    PartitionStats stats() {
        lock.lock();
        try {
            int waiting = pendingRecords();
            return new PartitionStats(partition, generation, confirmed, watermark(), ring.size() + waiting,
                    queued + waiting, running, failed);
        } finally {
            lock.unlock();
        }
    }

    /** For tests: the arrays of the record ring. */
    Object[] storage() {
        lock.lock();
        try {
            return ring.storage();
        } finally {
            lock.unlock();
        }
    }

    /** For tests: the record ring's current capacity. */
    int capacity() {
        lock.lock();
        try {
            return ring.capacity();
        } finally {
            lock.unlock();
        }
    }

    private long watermark() {
        if (ring.size() > 0) {
            return ring.offset(ring.head());
        }
        // Every record in the ring is finished: the first one not admitted yet is the first unfinished.
        if (admitting != null) {
            return admitting.nextOffset();
        }
        Batch<?, R> waiting = inbox.peek();
        if (waiting != null) {
            return waiting.firstOffset();
        }
        return lastOffset < 0 ? -1 : lastOffset + 1;
    }

    private boolean awaitsResolution(InFlightRecord<R> handle, String operation) {
        long seq = handle.seq();
        if (closed || !ring.holds(seq)) {
            return false;
        }
        byte state = ring.state(seq);
        if (state == RecordRing.ABANDONED) {
            return false;
        }
        if (state != RecordRing.FAILED) {
            throw new IllegalStateException(operation + " applies only to a record whose processing failed and "
                    + "that was not resolved yet, but " + handle + " is " + describe(state));
        }
        return true;
    }

    private void finish(long seq) {
        ring.state(seq, RecordRing.DONE);
        long next = lanes.release(ring, seq);
        if (next >= 0 && !draining) {
            makeReady(next, false);
        }
        int swept = ring.sweepDone();
        if (swept != 0) {
            heldTotal.addAndGet(-swept);
        }
    }

    /** Makes a record runnable and queues this track for the dispatcher unless it is queued already. */
    private void makeReady(long seq, boolean again) {
        ring.state(seq, again ? RecordRing.READY_AGAIN : RecordRing.READY);
        if (again) {
            ready.addFirst(seq);
        } else {
            ready.addLast(seq);
        }
        READY_SIZE.setRelease(this, ready.size());
        // read before the compare-and-set: the track is usually queued already, and a failing
        // compare-and-set still takes the cache line exclusively
        if (!draining && !closed && !inReadyTracks.get() && inReadyTracks.compareAndSet(false, true)) {
            readyTracks.offer(this);
        }
    }

    private static String describe(byte state) {
        switch (state) {
            case RecordRing.WAITING:
            case RecordRing.READY:
                return "queued";
            case RecordRing.READY_AGAIN:
                return "already queued for a retry";
            case RecordRing.RUNNING:
                return "running";
            case RecordRing.DONE:
                return "already done";
            default:
                return "in state " + state;
        }
    }
}
