package dev.courier.reliability.offset;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Processes records from a partitioned log in parallel while committing only offsets whose records
 * are all finished, so a crash or rebalance redelivers unfinished work instead of losing it.
 *
 * <h2>How a poll loop uses it</h2>
 * <pre>{@code
 * while (running) {
 *     consumer.pause(coordinator.partitionsToPause());
 *     consumer.resume(coordinator.partitionsToResume());
 *     for (var r : consumer.poll(timeout)) {
 *         coordinator.submit(PartitionId.of(r.topic(), r.partition()), r.offset(), r.key(), r);
 *     }
 *     var commits = coordinator.pollCommits(System.nanoTime());
 *     if (!commits.isEmpty()) {
 *         consumer.commitAsync(toKafka(commits), (done, error) -> ... onCommitted / onCommitFailed ...);
 *     }
 * }
 * // in the rebalance listener:
 * //   revoked: consumer.commitSync(toKafka(coordinator.onPartitionsRevoked(partitions, maxWait)))
 * //   lost:    coordinator.onPartitionsLost(partitions)
 * //   assigned: coordinator.onPartitionsAssigned(partitions)
 * }</pre>
 *
 * <h2>Ordering and dispatch</h2>
 * The {@link OrderingMode} decides which submitted records may run: the next of each partition,
 * the next of each key, or any. A runnable record takes one of {@code maxConcurrency} permits when
 * it starts and runs on the {@link Executor}; records waiting behind their key or partition take no
 * permit. The {@link RecordProcessor}'s stage completing normally finishes the record and lets the
 * next one of its key or partition run. A slow or stuck record holds up only its own key (or
 * partition); the rest keeps flowing until the in-flight bound is reached.
 *
 * <p>Records run in worker loops: an executor task is started only when a record is runnable and a
 * permit is free, and it keeps running the next runnable record (of any partition, in turn) after
 * its own, so a busy coordinator hands no record from one thread to another. A handler that
 * finished synchronously passes its permit to the loop's next record; an asynchronous one (stage
 * not complete when {@code process} returns) frees its loop at once and keeps its permit until the
 * stage completes. A loop ends when nothing is runnable. On an executor the coordinator does not
 * own it also ends after 64 records, resubmitting itself, so it cannot monopolise a small pool.
 * So at most {@code maxConcurrency} executor tasks exist at once, and consecutive records of a key
 * often run on the same thread.
 *
 * <p>The number of loops follows the work: one is started when records become runnable and none
 * is running; more start only while runnable records keep waiting (1 ms without the ready queue
 * running empty doubles the loops, up to {@code maxConcurrency}). Fast handlers are run by one or
 * a few loops instead of {@code maxConcurrency} threads competing with the poll thread for cores;
 * slow or blocking handlers reach full concurrency within a few milliseconds. The age of waiting
 * work is looked at on submits, completions and {@link #pollCommits}, by running loops, and by a
 * JVM-wide watchdog thread every 10 ms, so records behind loops that are all blocked in handlers
 * get a loop even if the poll loop is idle.
 *
 * <h2>Failures</h2>
 * A failed record (stage completed exceptionally, or the processor threw) is not finished. The
 * {@link FailureHandler} is told, and the record keeps blocking its key and the commit watermark
 * until someone calls {@link #retry(InFlightRecord)} (run it again, ahead of records that never
 * ran) or {@link #markDone(InFlightRecord)} (for example once its dead-letter copy is confirmed).
 * This class never retries or drops a record by itself.
 *
 * <h2>Commits</h2>
 * Per partition the committable offset is the offset of the first unfinished submitted record, or
 * the last submitted offset + 1 when every submitted record is finished (Kafka's convention: the
 * next offset to read). Offsets that were never submitted (compaction, transaction markers) do not
 * hold it back. A finished record above an unfinished one is never committed. The offsets handed
 * out by {@link #pollCommits(long)} and {@link #committableOffsets()} only grow within an
 * assignment, and {@link #onCommitted} ignores callbacks that would move the recorded committed
 * offset backwards.
 *
 * <h2>Back-pressure</h2>
 * A record is <em>held</em> from {@code submit} until the committable offset has passed it (a
 * finished record above an unfinished one is still held: it occupies memory). When the held count
 * reaches {@code maxInFlight}, {@link #partitionsToPause()} returns every assigned partition; once
 * it is down to {@code resumeThreshold}, {@link #partitionsToResume()} returns them all. The held
 * count can exceed {@code maxInFlight} by what polls returned before the poll loop applied the
 * pause (at most one poll's worth when the loop asks every iteration). Resumption needs records to
 * finish: a record that fails and is never resolved keeps its successors held, and may keep the
 * consumer paused until it is resolved or its partition is revoked.
 *
 * <h2>Rebalances</h2>
 * Every assignment of a partition is a new generation with fresh state. {@link
 * #onPartitionsRevoked} stops dispatching the partitions' queued records, waits a bounded time for
 * running and failed-but-unresolved ones, and returns the final offsets to commit; everything else
 * is dropped for the next owner to process. A caller holding failed records for a delayed retry
 * resolves them from the revocation's {@code whileDraining} step, so the wait is not spent on them. {@link #onPartitionsLost} drops everything at once and
 * commits nothing. Completions, retries and markDone calls that arrive later for a previous
 * generation change nothing.
 *
 * <h2>Threads</h2>
 * {@code submit}, the rebalance methods, {@code pollCommits}, {@code committableOffsets}, the pause
 * and resume methods and {@code close} belong to the single poll thread. Handler completions,
 * {@code retry}, {@code markDone}, {@code onCommitted}, {@code onCommitFailed} and the statistics
 * methods may be called from any thread. Each partition has its own lock, so completions of
 * different partitions do not contend, and dispatching takes no lock beyond the partition's.
 *
 * <h2>Memory</h2>
 * Held records live in per-partition ring buffers of primitive arrays (offset, state, payload
 * reference; plus a link for key lanes), so a million held records cost tens of megabytes and no
 * object per record beyond the caller's payload and one handle per dispatched record. A ring
 * shrinks back after a burst, to 512 slots (about 15 KB), so polls of a few hundred records do not
 * resize it every time. Finishing a record is O(1); the watermark advances by sweeping the finished
 * prefix, amortised O(1).
 *
 * <h2>Close</h2>
 * {@link #close(Duration)} revokes every partition as above, returns their final offsets, and shuts
 * down the executor if this coordinator created it (a caller-supplied executor stays the caller's).
 *
 * @param <R> the record type, handed to the processor untouched
 */
public final class OffsetCommitCoordinator<R> {

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);

    private final OrderingMode mode;
    private final int initialPartitionCapacity;
    private final long commitIntervalNanos;
    private final AtomicLong held = new AtomicLong();
    private final AtomicLong generations = new AtomicLong();
    private final Map<PartitionId, PartitionTrack<R>> tracks = new ConcurrentHashMap<>();
    private final Dispatcher<R> dispatcher;
    private final FlowControl flow;
    private final ExecutorService ownedExecutor;

    // Poll-thread state.
    private long lastCommitNanos;
    private boolean commitClockStarted;
    private volatile boolean closed;

    private OffsetCommitCoordinator(Builder<R> builder) {
        this.mode = builder.mode;
        this.initialPartitionCapacity = builder.initialPartitionCapacity;
        this.commitIntervalNanos = builder.commitInterval.toNanos();
        Executor executor = builder.executor;
        if (executor == null) {
            int threads = Math.min(builder.maxConcurrency, Short.MAX_VALUE);
            ownedExecutor = builder.platformThreads ? HandlerExecutors.platformThreads(threads, builder.threadNamePrefix)
                    : HandlerExecutors.create(threads, builder.threadNamePrefix);
            executor = ownedExecutor;
        } else {
            ownedExecutor = null;
        }
        // Loops need not give back a thread of our own platform pool: nothing else runs there. Virtual
        // threads share their carriers with the whole JVM, and a caller's executor may run anything.
        boolean yields = !(ownedExecutor instanceof PlatformThreadPool);
        this.dispatcher = new Dispatcher<>(builder.maxConcurrency, executor, yields, builder.processor,
                builder.failureHandler);
        this.flow = new FlowControl(builder.maxInFlight, builder.resumeThreshold, held);
    }

    /**
     * Starts configuring a coordinator.
     *
     * @param processor      runs each record
     * @param failureHandler decides what to do with failed records
     */
    public static <R> Builder<R> builder(RecordProcessor<R> processor, FailureHandler<R> failureHandler) {
        return new Builder<>(processor, failureHandler);
    }

    // ---------------------------------------------------------------- poll thread

    /**
     * Accepts a polled record. It runs as soon as its ordering lane and a concurrency permit allow,
     * possibly before this method returns. A partition seen for the first time counts as assigned.
     *
     * @param partition where the record came from
     * @param offset    its offset; must be above every offset submitted for this partition since it
     *                  was assigned
     * @param key       its ordering key for {@link OrderingMode#KEY}, may be null (see there); ignored
     *                  by the other modes
     * @param record    the payload handed to the processor
     * @throws IllegalArgumentException if the offset is negative or not above the last one submitted
     * @throws IllegalStateException    if the coordinator is closed
     */
    public void submit(PartitionId partition, long offset, Object key, R record) {
        Objects.requireNonNull(partition, "partition");
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be between 0 and " + Long.MAX_VALUE + " (was " + offset + ")");
        }
        requireOpen("submit");
        track(partition).append(offset, key, record);
        // also when the record itself waits: batches admitted ahead of it may have become runnable
        dispatcher.drain();
    }

    /**
     * Accepts the records of one poll for one partition, in offset order: the same as {@link
     * #submit} for each of them, but cheaper for the calling thread. Only the offsets are checked
     * here, and in {@link OrderingMode#KEY} the keys read (while the polled records are
     * still in the calling thread's cache); the records are queued as one batch, without taking the
     * partition's lock, and a worker loop places them in their lanes when it next takes work from
     * the partition. The poll thread thus takes no lock per record, and handlers are not woken
     * record by record while it is still adding. The records count as held (and pin the commit
     * watermark) from this call on. If an offset is refused, or {@code keyOf} throws, the records
     * before it stay submitted and the exception is thrown.
     *
     * <p>{@code offsetOf} and {@code keyOf} are called here ({@code keyOf} in KEY mode only);
     * {@code offsetOf} and {@code recordOf} again later, on a worker loop's thread, once per record.
     *
     * @param partition where the records came from
     * @param polled    the records, offsets strictly increasing and above every offset submitted
     *                  for this partition since it was assigned; kept (not copied) until admitted
     * @param offsetOf  the offset of a polled record
     * @param keyOf     its ordering key for {@link OrderingMode#KEY}, may return null
     * @param recordOf  the payload handed to the processor
     * @param <T>       the polled record type
     * @throws IllegalArgumentException if an offset is negative or not above the one before
     * @throws IllegalStateException    if the coordinator is closed
     */
    public <T> void submitAll(PartitionId partition, List<T> polled, ToLongFunction<? super T> offsetOf,
            Function<? super T, ?> keyOf, Function<? super T, ? extends R> recordOf) {
        Objects.requireNonNull(partition, "partition");
        Objects.requireNonNull(polled, "polled");
        requireOpen("submitAll");
        if (polled.isEmpty()) {
            return;
        }
        try {
            track(partition).appendAll(polled, offsetOf, keyOf, recordOf);
        } finally {
            // also after a refused offset: the records before it are held and may run
            dispatcher.drain();
        }
    }

    /**
     * Registers newly assigned partitions, so back-pressure also pauses those that have not
     * delivered a record yet. Already assigned partitions are left as they are.
     */
    public void onPartitionsAssigned(Collection<PartitionId> partitions) {
        requireOpen("onPartitionsAssigned");
        for (PartitionId partition : partitions) {
            track(partition);
        }
    }

    /**
     * Hands partitions over: stops dispatching their queued records, waits up to {@code maxWait}
     * (shared by all of them) for their running and failed-but-unresolved records, then forgets
     * them. Records still unfinished after the wait are left to the next owner; if they complete
     * later, nothing changes here.
     *
     * @return the final offset to commit for each partition that made progress since its last
     *         confirmed commit; only contiguous finished records count
     * @throws IllegalArgumentException if maxWait is negative
     */
    public Map<PartitionId, Long> onPartitionsRevoked(Collection<PartitionId> partitions, Duration maxWait) {
        return onPartitionsRevoked(partitions, maxWait, () -> { });
    }

    /**
     * As {@link #onPartitionsRevoked(Collection, Duration)}, running {@code whileDraining} on the
     * calling thread once the partitions stopped dispatching and before the wait begins. From that
     * moment {@link #retry} of one of their failed records leaves it for the next owner at once, so
     * it is the time to resolve records that only wait out a redelivery delay: otherwise the wait
     * lasts until their delay ends or {@code maxWait} passes, whichever comes first. An exception
     * it throws is logged and the revocation goes on.
     *
     * @throws IllegalArgumentException if maxWait is negative
     */
    public Map<PartitionId, Long> onPartitionsRevoked(Collection<PartitionId> partitions, Duration maxWait, Runnable whileDraining) {
        if (maxWait == null || maxWait.isNegative()) {
            throw new IllegalArgumentException("maxWait must be zero or positive (was " + maxWait + ")");
        }
        Objects.requireNonNull(whileDraining, "whileDraining");
        List<PartitionTrack<R>> revoked = new ArrayList<>();
        for (PartitionId partition : partitions) {
            PartitionTrack<R> track = tracks.get(partition);
            if (track != null) {
                track.beginDraining();
                revoked.add(track);
            }
        }
        try {
            whileDraining.run();
        } catch (RuntimeException e) {
            // the revocation goes on: records it would have resolved are waited for as without it
            log.warn("whileDraining of a revocation failed; waiting for the partitions' records as usual", e);
        }
        long deadline = System.nanoTime() + saturatedNanos(maxWait);
        for (PartitionTrack<R> track : revoked) {
            track.awaitSettled(deadline);
        }
        Map<PartitionId, Long> finalOffsets = new LinkedHashMap<>();
        for (PartitionTrack<R> track : revoked) {
            long offset = forget(track);
            if (offset >= 0) {
                finalOffsets.put(track.partition(), offset);
            }
        }
        return Collections.unmodifiableMap(finalOffsets);
    }

    /**
     * Drops partitions that are already owned by someone else: nothing is waited for and nothing
     * is committed for them.
     */
    public void onPartitionsLost(Collection<PartitionId> partitions) {
        for (PartitionId partition : partitions) {
            PartitionTrack<R> track = tracks.get(partition);
            if (track != null) {
                forget(track);
            }
        }
    }

    /**
     * What to commit, when the commit interval has passed since the last time this returned
     * (the first call starts the clock). Call it every poll-loop iteration.
     *
     * @param nowNanos the current {@link System#nanoTime()}
     * @return partition to offset for each partition whose watermark moved; empty between intervals
     */
    public Map<PartitionId, Long> pollCommits(long nowNanos) {
        // every poll-loop iteration: also the moment to start more loops for records left waiting
        dispatcher.drain();
        if (!commitClockStarted) {
            commitClockStarted = true;
            lastCommitNanos = nowNanos;
        }
        if (nowNanos - lastCommitNanos < commitIntervalNanos) {
            return Map.of();
        }
        lastCommitNanos = nowNanos;
        return committableOffsets();
    }

    /**
     * What to commit right now, regardless of the interval: each partition whose committable
     * offset moved past what was already handed out or confirmed. The offsets returned count as
     * handed out; report the outcome with {@link #onCommitted} or {@link #onCommitFailed}.
     */
    public Map<PartitionId, Long> committableOffsets() {
        Map<PartitionId, Long> commits = new LinkedHashMap<>();
        for (PartitionTrack<R> track : tracks.values()) {
            long offset = track.takeCommittable();
            if (offset >= 0) {
                commits.put(track.partition(), offset);
            }
        }
        return Collections.unmodifiableMap(commits);
    }

    /**
     * Partitions the poll loop should pause now because too many records are held. Returns each
     * partition once per pause; call it every iteration.
     */
    public Set<PartitionId> partitionsToPause() {
        return flow.toPause(tracks.keySet());
    }

    /**
     * Partitions the poll loop should resume now, because the held count is down to the resume
     * threshold. Every partition returned by {@link #partitionsToPause()} (and not revoked or lost
     * since) is returned here exactly once, after enough records finish.
     */
    public Set<PartitionId> partitionsToResume() {
        return flow.toResume();
    }

    /**
     * Revokes every partition (see {@link #onPartitionsRevoked}), refuses further submits and shuts
     * down the executor if this coordinator created it. Running handlers are not interrupted.
     * Calling it again returns an empty map.
     *
     * @return the final offsets to commit
     */
    public Map<PartitionId, Long> close(Duration maxWait) {
        if (closed) {
            return Map.of();
        }
        closed = true;
        Map<PartitionId, Long> finalOffsets = onPartitionsRevoked(new ArrayList<>(tracks.keySet()), maxWait);
        dispatcher.close();
        if (ownedExecutor != null) {
            ownedExecutor.shutdown();
        }
        return finalOffsets;
    }

    // ---------------------------------------------------------------- any thread

    /**
     * Runs a failed record again, ahead of records that have not run yet. It keeps its place in
     * its key's order meanwhile.
     *
     * @return true if it will run again; false if its partition was revoked or lost (including
     *         while a revocation is waiting: the record is then left for the next owner)
     * @throws IllegalStateException    if the record has not failed or was already resolved
     * @throws IllegalArgumentException if the record came from another coordinator
     */
    public boolean retry(InFlightRecord<R> record) {
        PartitionTrack<R> track = ownTrack(record, "retry");
        boolean queued = track.retry(record);
        if (queued) {
            dispatcher.drain();
        }
        return queued;
    }

    /**
     * Marks a failed record finished, for example once its dead-letter copy was confirmed, so the
     * watermark can move past it and the next record of its key can run.
     *
     * @return true if marked; false if its partition was revoked or lost
     * @throws IllegalStateException    if the record has not failed or was already resolved
     * @throws IllegalArgumentException if the record came from another coordinator
     */
    public boolean markDone(InFlightRecord<R> record) {
        PartitionTrack<R> track = ownTrack(record, "markDone");
        boolean marked = track.markDone(record);
        if (marked) {
            dispatcher.drain();
        }
        return marked;
    }

    /**
     * Records that a commit succeeded. Callbacks may arrive late and out of order: an offset below
     * the recorded one, for a partition no longer assigned, or above anything this assignment
     * handed out changes nothing.
     */
    public void onCommitted(PartitionId partition, long offset) {
        PartitionTrack<R> track = tracks.get(partition);
        if (track != null) {
            track.confirm(offset);
        }
    }

    /** {@link #onCommitted(PartitionId, long)} for each entry. */
    public void onCommitted(Map<PartitionId, Long> offsets) {
        offsets.forEach(this::onCommitted);
    }

    /**
     * Records that a commit failed, so the same progress is offered again by the next {@link
     * #pollCommits} or {@link #committableOffsets}.
     */
    public void onCommitFailed(PartitionId partition, long offset) {
        PartitionTrack<R> track = tracks.get(partition);
        if (track != null) {
            track.commitFailed(offset);
        }
    }

    /** Statistics of one assigned partition, or null if it is not assigned. */
    public PartitionStats stats(PartitionId partition) {
        PartitionTrack<R> track = tracks.get(partition);
        return track == null ? null : track.stats();
    }

    /** Statistics of every assigned partition. */
    public Map<PartitionId, PartitionStats> stats() {
        Map<PartitionId, PartitionStats> all = new LinkedHashMap<>();
        for (PartitionTrack<R> track : tracks.values()) {
            all.put(track.partition(), track.stats());
        }
        return Collections.unmodifiableMap(all);
    }

    /** Records held across all partitions (what the in-flight bound counts). */
    public long heldRecords() {
        return held.get();
    }

    /** Whether worker loops give their thread back every few records (not on a pool of the coordinator's own); for tests. */
    boolean loopsYield() {
        return dispatcher.yields();
    }

    /** Handlers dispatched and not yet completed, including those of revoked partitions. */
    public int runningHandlers() {
        return dispatcher.running();
    }

    /** Partitions currently paused by back-pressure. */
    public Set<PartitionId> pausedPartitions() {
        return flow.paused();
    }

    /** The ordering mode this coordinator was built with. */
    public OrderingMode orderingMode() {
        return mode;
    }

    /** For tests: the current track of a partition. */
    PartitionTrack<R> trackOf(PartitionId partition) {
        return tracks.get(partition);
    }

    // ---------------------------------------------------------------- internals

    private PartitionTrack<R> track(PartitionId partition) {
        PartitionTrack<R> track = tracks.get(partition);
        if (track == null) {
            track = new PartitionTrack<>(partition, generations.incrementAndGet(), mode, initialPartitionCapacity,
                    this, dispatcher.readyTracks(), held);
            tracks.put(partition, track);
        }
        return track;
    }

    private long forget(PartitionTrack<R> track) {
        tracks.remove(track.partition(), track);
        flow.forget(track.partition());
        return track.close();
    }

    private PartitionTrack<R> ownTrack(InFlightRecord<R> record, String operation) {
        Objects.requireNonNull(record, "record");
        PartitionTrack<R> track = record.track();
        if (!track.ownedBy(this)) {
            throw new IllegalArgumentException(operation + " was given " + record + ", which another coordinator dispatched");
        }
        return track;
    }

    private void requireOpen(String operation) {
        if (closed) {
            throw new IllegalStateException(operation + " called on a closed OffsetCommitCoordinator");
        }
    }

    private static long saturatedNanos(Duration duration) {
        try {
            return duration.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE / 2;
        }
    }

    /**
     * Configures an {@link OffsetCommitCoordinator}. Not thread-safe; use from one thread, then
     * {@link #build()}.
     *
     * @param <R> the record type
     */
    public static final class Builder<R> {

        private static final int MAX_CONCURRENCY = 10_000_000;
        private static final int MAX_IN_FLIGHT = 1 << 30;

        private final RecordProcessor<R> processor;
        private final FailureHandler<R> failureHandler;
        private OrderingMode mode = OrderingMode.PARTITION;
        private int maxConcurrency = 16;
        private int maxInFlight = 10_000;
        private int resumeThreshold = -1;
        private Duration commitInterval = Duration.ofSeconds(5);
        private Executor executor;
        private boolean platformThreads;
        private String threadNamePrefix = "courier-handler-";
        private int initialPartitionCapacity = 64;

        private Builder(RecordProcessor<R> processor, FailureHandler<R> failureHandler) {
            this.processor = Objects.requireNonNull(processor, "processor");
            this.failureHandler = Objects.requireNonNull(failureHandler, "failureHandler");
        }

        /** How much order to keep; {@link OrderingMode#PARTITION} by default. */
        public Builder<R> ordering(OrderingMode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * The most handlers running at once, between 1 and 10,000,000; 16 by default.
         *
         * @throws IllegalArgumentException if out of range
         */
        public Builder<R> maxConcurrency(int maxConcurrency) {
            if (maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY) {
                throw new IllegalArgumentException(
                        "maxConcurrency must be between 1 and " + MAX_CONCURRENCY + " (was " + maxConcurrency + ")");
            }
            this.maxConcurrency = maxConcurrency;
            return this;
        }

        /**
         * How many records may be held before partitions are paused, between 1 and 2^30; 10,000 by
         * default.
         *
         * @throws IllegalArgumentException if out of range
         */
        public Builder<R> maxInFlight(int maxInFlight) {
            if (maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT) {
                throw new IllegalArgumentException(
                        "maxInFlight must be between 1 and " + MAX_IN_FLIGHT + " (was " + maxInFlight + ")");
            }
            this.maxInFlight = maxInFlight;
            return this;
        }

        /**
         * Paused partitions resume once the held count is at or below this, between 0 and
         * maxInFlight - 1 (checked by {@link #build()}); half of maxInFlight by default.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder<R> resumeThreshold(int resumeThreshold) {
            if (resumeThreshold < 0) {
                throw new IllegalArgumentException(
                        "resumeThreshold must be between 0 and maxInFlight - 1 (was " + resumeThreshold + ")");
            }
            this.resumeThreshold = resumeThreshold;
            return this;
        }

        /**
         * How often {@link OffsetCommitCoordinator#pollCommits} returns offsets; zero means every
         * call. Five seconds by default.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder<R> commitInterval(Duration commitInterval) {
            if (commitInterval == null || commitInterval.isNegative()) {
                throw new IllegalArgumentException("commitInterval must be zero or positive (was " + commitInterval + ")");
            }
            this.commitInterval = commitInterval;
            return this;
        }

        /**
         * Where handlers run. By default the coordinator creates one with {@link
         * HandlerExecutors#create} and shuts it down on close (on a JVM without virtual threads its
         * platform pool has maxConcurrency threads, at most 32,767). A supplied executor is never
         * shut down by the coordinator. Each task is a worker loop that may run many records
         * before it returns (see "Ordering and dispatch"); an executor with fewer threads than
         * maxConcurrency works but limits concurrency to its thread count for synchronous handlers.
         * It may run tasks inline (for example {@code Runnable::run}); handlers then run on the
         * thread that submitted or completed the record that freed them, and that thread keeps
         * running records until none is runnable.
         */
        public Builder<R> executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Makes the coordinator create a pool of maxConcurrency platform threads (at most 32,767,
         * {@link HandlerExecutors#platformThreads}) even on a JVM with virtual threads, and shut it
         * down on close; for handlers that must not run on virtual threads (code that pins its
         * carrier, thread-local caches sized for few threads). Unlike the same pool passed to
         * {@link #executor(Executor)}, it runs nothing but this coordinator's worker loops, so they
         * keep their thread instead of giving it back every 64 records. Ignored with {@link
         * #executor(Executor)}.
         */
        public Builder<R> platformThreads() {
            this.platformThreads = true;
            return this;
        }

        /**
         * Thread-name prefix for the executor the coordinator creates; ignored with {@link
         * #executor(Executor)}.
         *
         * @throws IllegalArgumentException if blank
         */
        public Builder<R> threadNamePrefix(String threadNamePrefix) {
            if (threadNamePrefix == null || threadNamePrefix.isBlank()) {
                throw new IllegalArgumentException("threadNamePrefix must not be blank");
            }
            this.threadNamePrefix = threadNamePrefix;
            return this;
        }

        /**
         * Starting size of each partition's record ring, between 2 and 2^20; it grows and shrinks
         * with use. 64 by default.
         *
         * @throws IllegalArgumentException if out of range
         */
        public Builder<R> initialPartitionCapacity(int capacity) {
            if (capacity < 2 || capacity > (1 << 20)) {
                throw new IllegalArgumentException(
                        "initialPartitionCapacity must be between 2 and " + (1 << 20) + " (was " + capacity + ")");
            }
            this.initialPartitionCapacity = capacity;
            return this;
        }

        /**
         * Creates the coordinator.
         *
         * @throws IllegalArgumentException if resumeThreshold is not below maxInFlight
         */
        public OffsetCommitCoordinator<R> build() {
            if (resumeThreshold < 0) {
                resumeThreshold = maxInFlight / 2;
            } else if (resumeThreshold >= maxInFlight) {
                throw new IllegalArgumentException("resumeThreshold must be between 0 and maxInFlight - 1 = "
                        + (maxInFlight - 1) + " (was " + resumeThreshold + ")");
            }
            return new OffsetCommitCoordinator<>(this);
        }
    }
}
