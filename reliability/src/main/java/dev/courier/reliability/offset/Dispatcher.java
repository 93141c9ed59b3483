package dev.courier.reliability.offset;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs runnable records in worker loops on the executor while at most {@code maxConcurrency}
 * handlers run at once.
 *
 * <h2>Permits</h2>
 * A record takes one of {@code maxConcurrency} permits when it starts (when a loop is started for
 * it, or when a running loop picks it up); records waiting behind their key or partition take none.
 * The permit is held until the handler's stage completes, and is then released exactly once,
 * whether the record succeeded, failed, or its partition was revoked meanwhile (the handler really
 * did run, so it really did use the permit).
 *
 * <h2>Worker loops</h2>
 * A loop is one executor task. It is started with a permit only when a record is runnable and the
 * permit is free, so the number of loops never exceeds the permits in use; it takes its first
 * record itself, on its own thread (which may mean placing a polled batch in its lanes).
 * After its record, the loop takes the next runnable record itself instead of handing it to another
 * thread: a chain of synchronous handlers costs no thread hand-off per record.
 * <ul>
 *   <li>A handler whose stage is complete when {@code process} returns finished synchronously: the
 *       loop passes that record's permit straight on to the next runnable record.</li>
 *   <li>A handler whose stage is not complete yet (asynchronous) keeps its permit until the stage
 *       completes; the loop is free at once and takes the next record only if it gets another
 *       permit. The completion, on whatever thread it happens, releases the permit and starts a loop
 *       if none is running.</li>
 *   <li>A loop exits when nothing is runnable (or no permit is free for its next record). On an
 *       executor it does not own (a caller's, or virtual threads shared with the rest of the JVM),
 *       a loop yields after {@value #BATCH} records: it submits a new loop for its next record and
 *       ends, so one loop cannot keep a small pool's thread from other tasks. On the coordinator's
 *       own platform pool, whose threads serve nothing else, it does not.</li>
 * </ul>
 *
 * <h2>How many loops</h2>
 * Work that appears while no loop runs starts one. More loops start only when runnable records
 * keep waiting: records have been runnable for {@value #BACKLOG_MILLIS} ms without the ready queue
 * ever running empty (or since the last growth). Then, if the loops mostly wait in their handlers
 * (a loop on a platform thread spent under an eighth of each of its last two windows of 10 ms or
 * more on a CPU; I/O, sleeps, locks; a loop's first window starts after its first millisecond) or
 * are stuck (no loop finished {@value #CHECK_EVERY} records in {@value #STALL_MILLIS} ms), a loop
 * starts for every record that could start, as permits allow; if
 * they are busy on the CPU, the count doubles, but only up to {@link #CPU_LOOPS} (the cores but
 * one), since more threads than cores would only take turns with each other and the poll thread.
 * Fast handlers are thus run by one or a few loops, each taking record after record; slow or
 * blocking ones get every permit within milliseconds. The age is looked at whenever work is
 * offered ({@link #drain()}, called by submits, completions, retries and {@code pollCommits}), by
 * running loops every {@value #CHECK_EVERY} records, and by a JVM-wide watchdog thread every 2 ms,
 * which is what frees work behind loops that are all blocked in handlers when nothing else happens.
 *
 * <p>Partitions with runnable records wait in a lock-free queue; taking a record sends its partition
 * to the back, so partitions take turns for permits and for loops. A loop whose record finished
 * synchronously takes the next runnable record of the same partition in the same step, under the
 * partition's lock it holds anyway, up to {@value #STREAK} records in a row before it goes back to
 * the queue: turns are {@value #STREAK} records long, and a loop working through a busy partition
 * takes one lock per record and leaves the queue alone.
 *
 * <p>Thread-safe. {@link #drain()} may be called from any thread, concurrently; nobody waits for a
 * lock to hand out work. A drain that would start inside another drain or loop on the same thread
 * (a caller-runs executor, or a handler that completes another record's stage) returns at once, and
 * the enclosing one picks the work up, so the stack never grows with the number of records. A loop
 * that runs inline inside a drain or loop on the same thread never yields and never starts more
 * loops (resubmitting would only nest deeper); it runs until nothing is runnable.
 */
final class Dispatcher<R> {

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);

    /** Records a loop runs before it yields its thread by resubmitting itself, where it yields. */
    static final int BATCH = 64;
    /** How long runnable records may keep waiting while loops run before more loops start. */
    static final long BACKLOG_MILLIS = 1;
    /** With no loop finishing {@value #CHECK_EVERY} records for this long, loops count as stuck. */
    static final long STALL_MILLIS = 10;
    /** A running loop looks at the backlog's age after every this many records (a power of two). */
    static final int CHECK_EVERY = 16;
    /**
     * Records of one partition a loop runs in a row, each taken as the one before finished, before
     * it goes back to the ready queue, where partitions take turns.
     */
    static final int STREAK = 16;
    private static final long BACKLOG_NANOS = TimeUnit.MILLISECONDS.toNanos(BACKLOG_MILLIS);

    /**
     * Loops that handlers keeping their thread on a CPU may fill before growth needs them to wait:
     * one core is left to the poll thread and the client's own threads.
     */
    static final int CPU_LOOPS = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    private static final long STALL_NANOS = TimeUnit.MILLISECONDS.toNanos(STALL_MILLIS);
    /**
     * The shortest window over which a loop compares its CPU time with the time passed: several of
     * the scheduler's time slices, so that waiting for a core on a busy machine averages out.
     */
    private static final long MEASURE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How long a loop runs before its first window starts. */
    private static final long WINDOW_START_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final boolean CPU_TIME = cpuTimeAvailable();
    /** {@link #backlogSince} when the ready queue was last seen empty. */
    private static final long NONE = Long.MIN_VALUE;

    private final int maxConcurrency;
    private final Semaphore permits;
    private final Queue<PartitionTrack<R>> readyTracks = new ConcurrentLinkedQueue<>();
    private final Executor executor;
    private final boolean yields;
    private final RecordProcessor<R> processor;
    private final FailureHandler<R> failureHandler;
    private final ThreadLocal<Context> context = ThreadLocal.withInitial(Context::new);
    /** Loops submitted to the executor and not ended. */
    private final AtomicInteger loops = new AtomicInteger();
    /** Loops submitted to the executor that have not begun running: while any waits, starting more would not help. */
    private final AtomicInteger unstarted = new AtomicInteger();
    /**
     * {@link System#nanoTime()} since which runnable records have been waiting with the ready queue
     * never seen empty, or since the last time more loops were started for them; {@link #NONE} once
     * a loop found the queue empty. A hint: races between its writers only shift when loops grow.
     */
    private volatile long backlogSince = NONE;
    /**
     * Whether the latest loop to measure itself spent at least an eighth of one of its last two
     * windows of 10 ms or more on a CPU (rather than mostly waiting in its handlers); measured on
     * platform threads only. A hint. Until a loop measured, handlers are taken to be fast: slow
     * ones show as a stall ({@link #STALL_MILLIS} ms without progress) and then get their loops.
     */
    private volatile boolean cpuBound = true;
    /** {@link System#nanoTime()} when a loop last finished {@value #CHECK_EVERY} records. */
    private volatile long lastProgress = System.nanoTime();
    /**
     * Set once a loop ran on the thread that started it: such an executor adds no thread, so more
     * loops would only move the work to whichever thread asked for them (the watchdog's, say).
     */
    private volatile boolean inline;
    private final Runnable unwatch;

    /**
     * @param yields whether loops give their thread back after {@value #BATCH} records; false only
     *               for a pool whose threads run nothing but this dispatcher's loops
     */
    Dispatcher(int maxConcurrency, Executor executor, boolean yields, RecordProcessor<R> processor,
            FailureHandler<R> failureHandler) {
        this.maxConcurrency = maxConcurrency;
        this.permits = new Semaphore(maxConcurrency);
        this.executor = executor;
        this.yields = yields;
        this.processor = processor;
        this.failureHandler = failureHandler;
        this.unwatch = Watchdog.watch(this);
    }

    Queue<PartitionTrack<R>> readyTracks() {
        return readyTracks;
    }

    /** Whether loops give their thread back after {@value #BATCH} records; for tests. */
    boolean yields() {
        return yields;
    }

    /** How many handlers hold a permit now (started and not completed). */
    int running() {
        return maxConcurrency - permits.availablePermits();
    }

    /** Stops the watchdog; loops already running finish what they hold. */
    void close() {
        unwatch.run();
    }

    /**
     * Work may have been offered or a permit freed: starts a loop if none is running, or more loops
     * if runnable records have waited too long.
     */
    void drain() {
        if (readyTracks.isEmpty()) {
            return;
        }
        Context ctx = context.get();
        if (ctx.active) {
            // The drain or loop below us on this thread looks again when it is back in control.
            ctx.drainRequested = true;
            return;
        }
        ctx.active = true;
        try {
            do {
                ctx.drainRequested = false;
                if (loops.get() == 0) {
                    startLoops(1);
                } else {
                    growIfWaiting();
                }
                // An inline loop that ended while we were here may have left work behind it.
            } while (ctx.drainRequested && !readyTracks.isEmpty());
        } finally {
            ctx.active = false;
            ctx.drainRequested = false;
        }
    }

    /**
     * The watchdog's look: frees work waiting behind loops that have all been busy for a while.
     *
     * @return whether runnable records wait behind running loops, for the watchdog to look again soon
     */
    boolean watch() {
        if (inline || readyTracks.isEmpty() || loops.get() == 0) {
            return false;
        }
        Context ctx = context.get();
        if (ctx.active) {
            return true; // an inline executor left a loop running on this thread; it takes the work itself
        }
        ctx.active = true;
        try {
            growIfWaiting();
        } finally {
            ctx.active = false;
            ctx.drainRequested = false;
        }
        return true;
    }

    /**
     * Starts more loops if runnable records have waited {@value #BACKLOG_MILLIS} ms (since they
     * were first seen waiting, or since the last growth) and every loop submitted so far has
     * begun: a loop for every record that could start if the handlers wait or are stuck, else as
     * many again as run, up to {@link #CPU_LOOPS}.
     */
    private void growIfWaiting() {
        if (inline) {
            return;
        }
        long since = backlogSince;
        long now = System.nanoTime();
        if (since == NONE) {
            backlogSince = now;
            return;
        }
        if (now - since < BACKLOG_NANOS || unstarted.get() > 0 || readyTracks.isEmpty()) {
            return;
        }
        boolean waiting = !cpuBound || now - lastProgress >= STALL_NANOS;
        if (!waiting && loops.get() >= CPU_LOOPS) {
            // The loops are busy on the CPU, not waiting: more threads than cores would only take
            // turns with them (and with the poll thread) without finishing more.
            return;
        }
        backlogSince = now;
        // Handlers that wait (or are stuck): a loop for every record that could start, as permits
        // allow. Handlers on the CPU: as many loops again, up to the cores.
        startLoops(waiting ? runnableHint() : Math.min(Math.max(1, loops.get()), CPU_LOOPS - loops.get()));
    }

    /** Records that could start now across the queued partitions; a hint ({@link PartitionTrack#runnableHint()}). */
    private int runnableHint() {
        long sum = 0;
        for (PartitionTrack<R> track : readyTracks) {
            sum += track.runnableHint();
            if (sum >= maxConcurrency) {
                break;
            }
        }
        return (int) Math.max(1, Math.min(sum, maxConcurrency));
    }

    /**
     * Starts up to {@code most} loops while work and permits are there. A loop takes its first
     * record itself, on its own thread: taking it can mean admitting a polled batch into its
     * lanes, which is work the caller (often the poll thread) should not do.
     */
    private void startLoops(int most) {
        for (int started = 0; started < most && !readyTracks.isEmpty() && permits.tryAcquire(); started++) {
            startLoop(null);
        }
    }

    /**
     * Takes the next runnable record together with a permit.
     *
     * @param holding whether the caller already holds a permit, which the record then takes over
     * @return the record, its permit held; or null, with no permit held, if nothing is runnable or
     *         no permit is free
     */
    private InFlightRecord<R> next(boolean holding) {
        while (true) {
            if (!holding && !permits.tryAcquire()) {
                return null;
            }
            InFlightRecord<R> next = null;
            PartitionTrack<R> track;
            while (next == null && (track = readyTracks.poll()) != null) {
                next = track.takeReady();
            }
            if (next != null) {
                return next;
            }
            backlogSince = NONE;
            permits.release();
            holding = false;
            // Work offered after our poll found the queue empty may have seen no free permit (we
            // held it); look once more now that it is back.
            if (readyTracks.isEmpty()) {
                return null;
            }
        }
    }

    /**
     * Starts a loop for a record whose permit the caller holds, or (null) with a permit the caller
     * holds, for the loop to take its first record itself.
     */
    private void startLoop(InFlightRecord<R> record) {
        loops.incrementAndGet();
        unstarted.incrementAndGet();
        try {
            executor.execute(() -> runLoop(record));
        } catch (RuntimeException rejected) {
            unstarted.decrementAndGet();
            loops.decrementAndGet();
            // The record that would have run fails with the refusal (its failure handler decides).
            InFlightRecord<R> refused = record != null ? record : next(true);
            if (refused != null) {
                completed(refused, rejected);
            }
        }
    }

    private void runLoop(InFlightRecord<R> first) {
        unstarted.decrementAndGet();
        // a loop starting now is progress: loops idle for lack of work are not stuck
        lastProgress = System.nanoTime();
        if (context.get().active && !inline) {
            inline = true;
        }
        try {
            loop(first);
        } finally {
            // Work offered while we were leaving may have seen us still counted and started nothing.
            if (loops.decrementAndGet() == 0 && !readyTracks.isEmpty()) {
                drain();
            }
        }
    }

    private void loop(InFlightRecord<R> first) {
        Context ctx = context.get();
        boolean nested = ctx.active;
        ctx.active = true;
        InFlightRecord<R> record = first;
        boolean measure = !nested && CPU_TIME && !isVirtual(Thread.currentThread());
        // The first window starts once the loop has run for a millisecond: reading the thread's CPU
        // clock is a system call, and loops that run a poll's worth of fast records and end (a loop a
        // poll) would pay one each for a window they never finish.
        long loopStart = measure ? System.nanoTime() : 0;
        long windowWall = NONE;
        long windowCpu = 0;
        int lowWindows = 0;
        try {
            if (record == null) {
                record = next(true); // started with a permit and no record
            }
            int ran = 0;
            int streak = 0;
            while (record != null) {
                InFlightRecord<R> current = record;
                // From here on the permit we hold, if any, belongs to the running record.
                record = null;
                boolean permitKept = run(current, streak < STREAK ? ctx : null);
                // Work that a drain on this thread left for us is what we take next anyway.
                ctx.drainRequested = false;
                record = takenBy(ctx);
                if (record != null) {
                    streak++; // the next record of the same partition, taken as this one finished
                } else {
                    streak = 0;
                    record = next(permitKept);
                }
                if (record == null || nested) {
                    continue;
                }
                ran++;
                if ((ran & (CHECK_EVERY - 1)) == 0) {
                    long wall = System.nanoTime();
                    lastProgress = wall;
                    // reading the thread's CPU clock costs about a microsecond: once per window
                    if (measure && windowWall == NONE) {
                        if (wall - loopStart >= WINDOW_START_NANOS) {
                            windowWall = wall;
                            windowCpu = THREADS.getCurrentThreadCpuTime();
                        }
                    } else if (measure && wall - windowWall >= MEASURE_NANOS) {
                        long cpu = THREADS.getCurrentThreadCpuTime();
                        // Waiting for a core on a busy machine, or for a collection, also leaves the CPU clock
                        // behind the wall clock: only two windows in a row under an eighth count as handlers
                        // that mostly wait (I/O, sleeps, locks).
                        lowWindows = 8 * (cpu - windowCpu) < wall - windowWall ? lowWindows + 1 : 0;
                        cpuBound = lowWindows < 2;
                        windowWall = wall;
                        windowCpu = cpu;
                    }
                    growIfWaiting();
                }
                if (yields && ran >= BATCH) {
                    // Yield the thread; the record and its permit go with the new loop.
                    InFlightRecord<R> handOver = record;
                    record = null;
                    startLoop(handOver);
                    return;
                }
            }
        } finally {
            if (record != null) {
                // Only reached if something above threw: the record never ran, give its permit back.
                completed(record, new IllegalStateException("worker loop ended unexpectedly"));
            }
            if (!nested) {
                ctx.active = false;
                ctx.drainRequested = false;
            }
        }
    }

    /**
     * Runs one record whose permit the caller holds.
     *
     * @return true if the record finished successfully before its stage was returned, so the
     *         caller still holds the permit; false if the permit was released or now belongs to the
     *         pending stage
     */
    private boolean run(InFlightRecord<R> record, Context takeInto) {
        CompletionStage<?> stage;
        try {
            stage = processor.process(record.record());
        } catch (Throwable failure) {
            // Errors too: the permit must come back whatever happened.
            completed(record, failure);
            return false;
        }
        if (stage == null) {
            completed(record, new NullPointerException("RecordProcessor.process returned null for " + record
                    + "; return a CompletionStage (CompletableFuture.completedFuture(null) for synchronous work)"));
            return false;
        }
        if (stage instanceof CompletableFuture && ((CompletableFuture<?>) stage).isDone()
                && !((CompletableFuture<?>) stage).isCompletedExceptionally()) {
            return finishedInline(record, takeInto);
        }
        Completion completion = new Completion(record);
        stage.whenComplete(completion);
        if (completion.detach()) {
            return false;
        }
        // The stage completed while we attached to it (on this or another thread).
        if (completion.failure == null) {
            return finishedInline(record, takeInto);
        }
        completed(record, completion.failure);
        return false;
    }

    /**
     * A record finished successfully on the loop's thread; the loop keeps its permit. With
     * {@code takeInto}, the next runnable record of the same partition, if any, is taken in the same
     * step and left in {@link Context#taken}, the permit going to it.
     */
    private boolean finishedInline(InFlightRecord<R> record, Context takeInto) {
        try {
            if (takeInto != null) {
                takeInto.taken = record.track().completeAndTakeNext(record);
            } else {
                record.track().complete(record, true);
            }
        } catch (RuntimeException | Error e) {
            permits.release();
            throw e;
        }
        return true;
    }

    /** A record's handler ended: releases its permit, lets waiting work start, reports a failure. */
    private void completed(InFlightRecord<R> record, Throwable failure) {
        PartitionTrack.Outcome outcome;
        try {
            outcome = record.track().complete(record, failure == null);
        } finally {
            permits.release();
        }
        drain();
        if (outcome == PartitionTrack.Outcome.FAILED) {
            try {
                failureHandler.onFailure(record, failure);
            } catch (RuntimeException | Error e) {
                log.error("Failure handler threw for {}; the record stays unresolved and blocks its key until "
                        + "retry or markDone is called", record, e);
            }
        }
    }

    private static boolean cpuTimeAvailable() {
        try {
            return THREADS.isCurrentThreadCpuTimeSupported() && THREADS.isThreadCpuTimeEnabled()
                    && THREADS.getCurrentThreadCpuTime() >= 0;
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

    private static MethodHandle isVirtualHandle() {
        try {
            return MethodHandles.publicLookup()
                    .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null; // before Java 21 every thread is a platform thread
        }
    }

    /** Virtual threads do not hold a core while they wait, and cannot report CPU time. */
    private static boolean isVirtual(Thread thread) {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(thread);
        } catch (Throwable e) {
            return false;
        }
    }

    @SuppressWarnings("unchecked")
    private InFlightRecord<R> takenBy(Context ctx) {
        InFlightRecord<R> taken = (InFlightRecord<R>) ctx.taken;
        ctx.taken = null;
        return taken;
    }

    private static Throwable unwrap(Throwable failure) {
        if (failure instanceof CompletionException && failure.getCause() != null) {
            return failure.getCause();
        }
        return failure;
    }

    /** What a thread is doing for this dispatcher. Only ever touched by its own thread. */
    private static final class Context {
        /** Inside {@link #drain()} or a loop: a nested drain only leaves a note. */
        boolean active;
        /** A nested drain was skipped; the enclosing drain looks again, an enclosing loop takes the work itself. */
        boolean drainRequested;
        /** The record a loop took together with finishing the one before (same partition), or null. */
        Object taken;
    }

    /**
     * Tells apart a stage that completes while the loop attaches to it (the loop finishes the record)
     * from one that completes later (the completing thread finishes it).
     */
    private final class Completion extends AtomicInteger implements BiConsumer<Object, Throwable> {

        private static final int PENDING = 0;
        private static final int COMPLETED = 1;
        private static final int DETACHED = 2;

        private final InFlightRecord<R> record;
        /** Written before the state moves to COMPLETED; read by the loop after it saw COMPLETED. */
        private Throwable failure;

        Completion(InFlightRecord<R> record) {
            this.record = record;
        }

        @Override
        public void accept(Object ignored, Throwable failure) {
            this.failure = unwrap(failure);
            if (!compareAndSet(PENDING, COMPLETED)) {
                // The loop has moved on: finish the record here, on the completing thread.
                completed(record, this.failure);
            }
        }

        /** @return true if the stage was still pending: its completion will finish the record */
        boolean detach() {
            return compareAndSet(PENDING, DETACHED);
        }
    }
}
