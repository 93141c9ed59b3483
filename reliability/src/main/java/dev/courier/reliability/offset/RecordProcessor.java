package dev.courier.reliability.offset;

import java.util.concurrent.CompletionStage;

/**
 * The application's handler for one record, run by the {@link OffsetCommitCoordinator} on its
 * executor.
 *
 * <p>The returned stage says when the record is finished, which lets asynchronous handlers
 * (non-blocking clients, reactive pipelines) hold no thread while they wait. Blocking handlers do
 * their work inline and return {@code CompletableFuture.completedFuture(null)}.
 *
 * <ul>
 *   <li>The stage completing normally means the record is done: it counts towards the commit
 *       watermark and the next record of its key or partition may run.</li>
 *   <li>The stage completing exceptionally, or this method throwing, means the record failed. It is
 *       <em>not</em> done: it keeps holding its key (or partition) and the watermark until the
 *       {@link FailureHandler} resolves it with {@link OffsetCommitCoordinator#retry} or
 *       {@link OffsetCommitCoordinator#markDone}.</li>
 *   <li>Returning {@code null} is treated as a failure with a {@link NullPointerException}, because
 *       it is almost always a forgotten {@code return}.</li>
 * </ul>
 *
 * <p>Implementations must be safe to call from several threads at once; the coordinator calls it
 * for different records concurrently (never for two records of the same key in {@link
 * OrderingMode#KEY}, nor two of the same partition in {@link OrderingMode#PARTITION}).
 *
 * @param <R> the record type handed through the coordinator untouched
 */
@FunctionalInterface
public interface RecordProcessor<R> {

    /**
     * Processes one record.
     *
     * @param record the payload given to {@link OffsetCommitCoordinator#submit}
     * @return a stage that completes when the record is finished
     * @throws Exception any failure; treated like an exceptionally completed stage
     */
    CompletionStage<?> process(R record) throws Exception;
}
