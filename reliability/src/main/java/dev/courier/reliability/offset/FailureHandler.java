package dev.courier.reliability.offset;

/**
 * Decides what happens to a record whose processing failed: retry it, or dead-letter it and then
 * mark it done.
 *
 * <p>A failed record is not finished. Until this handler (or code it schedules) calls {@link
 * OffsetCommitCoordinator#retry(InFlightRecord)} or {@link
 * OffsetCommitCoordinator#markDone(InFlightRecord)}, the record blocks its key (or partition) and
 * pins the commit watermark below its offset. Doing neither leaves it stuck on purpose: it will be
 * redelivered after a rebalance or restart rather than lost.
 *
 * <p>Called on the thread that observed the failure (a handler thread, or whatever thread completed
 * the handler's stage), never while the coordinator holds a lock, so it may call {@code retry} or
 * {@code markDone} directly. It must not block for long; schedule slow work (back-off,
 * dead-letter publishing) elsewhere. Not called for records whose partition was revoked or lost
 * before the failure arrived. Anything it throws is logged and otherwise ignored.
 *
 * @param <R> the record type handed through the coordinator untouched
 */
@FunctionalInterface
public interface FailureHandler<R> {

    /**
     * Reacts to a failed attempt.
     *
     * @param record the failed record; pass it back to {@code retry} or {@code markDone}
     * @param cause  what the processor threw or completed its stage with
     */
    void onFailure(InFlightRecord<R> record, Throwable cause);
}
