package dev.courier.reliability.offset;

import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
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
 * A loop is one executor task. It is started with a record (and that record's permit) only when a
 * record is runnable and a permit is free, so the number of loops never exceeds the permits in use.
 * After its record, the loop takes the next runnable record itself instead of handing it to another
 * thread: a chain of synchronous handlers costs no thread hand-off per record.
 * <ul>
 *   <li>A handler whose stage is complete when {@code process} returns finished synchronously: the
 *       loop passes that record's permit straight on to the next runnable record.</li>
 *   <li>A handler whose stage is not complete yet (asynchronous) keeps its permit until the stage
 *       completes; the loop is free at once and takes the next record only if it gets another
 *       permit. The completion, on whatever thread it happens, releases the permit and starts a loop
 *       for the next runnable record if a permit is free.</li>
 *   <li>A loop exits when nothing is runnable (or no permit is free for its next record). After
 *       {@value #BATCH} records it yields: it submits a new loop for its next record and ends, so one
 *       loop cannot keep a small pool's thread from other tasks.</li>
 * </ul>
 * Partitions with runnable records wait in a lock-free queue; taking a record sends its partition to
 * the back, so partitions take turns for permits and for loops.
 *
 * <p>Thread-safe. {@link #drain()} may be called from any thread, concurrently; nobody waits for a
 * lock to hand out work. A drain that would start inside another drain or loop on the same thread
 * (a caller-runs executor, or a handler that completes another record's stage) returns at once, and
 * the enclosing one picks the work up, so the stack never grows with the number of records. A loop
 * that runs inline inside a drain or loop on the same thread never yields (resubmitting would only
 * nest deeper); it runs until nothing is runnable.
 */
final class Dispatcher<R> {

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);

    /** Records a loop runs before it yields its thread by resubmitting itself. */
    static final int BATCH = 64;

    private final int maxConcurrency;
    private final Semaphore permits;
    private final Queue<PartitionTrack<R>> readyTracks = new ConcurrentLinkedQueue<>();
    private final Executor executor;
    private final RecordProcessor<R> processor;
    private final FailureHandler<R> failureHandler;
    private final ThreadLocal<Context> context = ThreadLocal.withInitial(Context::new);

    Dispatcher(int maxConcurrency, Executor executor, RecordProcessor<R> processor,
            FailureHandler<R> failureHandler) {
        this.maxConcurrency = maxConcurrency;
        this.permits = new Semaphore(maxConcurrency);
        this.executor = executor;
        this.processor = processor;
        this.failureHandler = failureHandler;
    }

    Queue<PartitionTrack<R>> readyTracks() {
        return readyTracks;
    }

    /** How many handlers hold a permit now (started and not completed). */
    int running() {
        return maxConcurrency - permits.availablePermits();
    }

    /** Starts a loop for each runnable record while permits last. */
    void drain() {
        Context ctx = context.get();
        if (ctx.active) {
            // The drain or loop below us on this thread looks again when it is back in control.
            ctx.drainRequested = true;
            return;
        }
        ctx.active = true;
        try {
            startLoops(ctx);
        } finally {
            ctx.active = false;
            ctx.drainRequested = false;
        }
    }

    private void startLoops(Context ctx) {
        InFlightRecord<R> next;
        while ((next = next(false)) != null) {
            ctx.drainRequested = false;
            startLoop(next);
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
            permits.release();
            holding = false;
            // Work offered after our poll found the queue empty may have seen no free permit (we
            // held it); look once more now that it is back.
            if (readyTracks.isEmpty()) {
                return null;
            }
        }
    }

    /** Starts a loop for a record whose permit the caller holds. */
    private void startLoop(InFlightRecord<R> record) {
        try {
            executor.execute(() -> loop(record));
        } catch (RuntimeException rejected) {
            completed(record, rejected);
        }
    }

    private void loop(InFlightRecord<R> first) {
        Context ctx = context.get();
        boolean nested = ctx.active;
        ctx.active = true;
        InFlightRecord<R> record = first;
        try {
            int ran = 0;
            while (record != null) {
                InFlightRecord<R> current = record;
                // From here on the permit we hold, if any, belongs to the running record.
                record = null;
                boolean permitKept = run(current);
                if (ctx.drainRequested && !nested) {
                    // Something on this thread freed a permit or made work runnable while we ran:
                    // start further loops for it, keeping one record for ourselves.
                    ctx.drainRequested = false;
                    record = next(permitKept);
                    if (record != null) {
                        startLoops(ctx);
                    }
                } else {
                    record = next(permitKept);
                }
                if (record != null && !nested && ++ran >= BATCH) {
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
    private boolean run(InFlightRecord<R> record) {
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
            return finishedInline(record);
        }
        Completion completion = new Completion(record);
        stage.whenComplete(completion);
        if (completion.detach()) {
            return false;
        }
        // The stage completed while we attached to it (on this or another thread).
        if (completion.failure == null) {
            return finishedInline(record);
        }
        completed(record, completion.failure);
        return false;
    }

    /** A record finished successfully on the loop's thread; the loop keeps its permit. */
    private boolean finishedInline(InFlightRecord<R> record) {
        try {
            record.track().complete(record, true);
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
        /** A nested drain was skipped; the enclosing loop starts further loops if permits allow. */
        boolean drainRequested;
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
