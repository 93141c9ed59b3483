package dev.courier.reliability.offset;

import java.util.Queue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs runnable records on the executor while at most {@code maxConcurrency} handlers run at once.
 *
 * <p>Partitions with runnable records wait in a lock-free queue; each dispatch takes one permit and
 * one record from the partition at the head, then sends that partition to the back, so partitions
 * take turns. A permit is held from dispatch until the handler's stage completes, and is then
 * released exactly once, whether the record succeeded, failed, or its partition was revoked
 * meanwhile (the handler really did run, so it really did use the permit).
 *
 * <p>Thread-safe. {@link #drain()} may be called from any thread, concurrently; nobody waits for a
 * lock to hand out work. A drain that would start inside another drain on the same thread (a
 * caller-runs executor completing a record inline) returns at once, and the outer one picks the
 * work up, so the stack never grows with the number of records.
 */
final class Dispatcher<R> {

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);

    private final int maxConcurrency;
    private final Semaphore permits;
    private final Queue<PartitionTrack<R>> readyTracks = new ConcurrentLinkedQueue<>();
    private final Executor executor;
    private final RecordProcessor<R> processor;
    private final FailureHandler<R> failureHandler;
    private final ThreadLocal<Boolean> draining = ThreadLocal.withInitial(() -> Boolean.FALSE);

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

    /** How many handlers hold a permit now (dispatched and not completed). */
    int running() {
        return maxConcurrency - permits.availablePermits();
    }

    /** Dispatches runnable records while permits last. */
    void drain() {
        if (draining.get()) {
            return;
        }
        draining.set(Boolean.TRUE);
        try {
            while (permits.tryAcquire()) {
                InFlightRecord<R> next = null;
                PartitionTrack<R> track;
                while (next == null && (track = readyTracks.poll()) != null) {
                    next = track.takeReady();
                }
                if (next == null) {
                    permits.release();
                    // Work offered after our poll found the queue empty may have seen no free
                    // permit (we held it); look once more now that it is back.
                    if (readyTracks.isEmpty()) {
                        return;
                    }
                    continue;
                }
                start(next);
            }
        } finally {
            draining.set(Boolean.FALSE);
        }
    }

    private void start(InFlightRecord<R> record) {
        try {
            executor.execute(() -> run(record));
        } catch (RuntimeException rejected) {
            completed(record, rejected);
        }
    }

    private void run(InFlightRecord<R> record) {
        CompletionStage<?> stage;
        try {
            stage = processor.process(record.record());
        } catch (Throwable failure) {
            // Errors too: the permit must come back whatever happened.
            completed(record, failure);
            return;
        }
        if (stage == null) {
            completed(record, new NullPointerException("RecordProcessor.process returned null for " + record
                    + "; return a CompletionStage (CompletableFuture.completedFuture(null) for synchronous work)"));
            return;
        }
        stage.whenComplete((ignored, failure) -> completed(record, unwrap(failure)));
    }

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
}
