package dev.courier;

import java.time.Duration;

/**
 * A running subscription. Thread-safe.
 *
 * <p>{@link #close()} stops taking new messages, waits up to the drain timeout for running
 * handlers to finish and settle, and gives every message that was received but not started back
 * to the broker unacknowledged, so nothing unprocessed is ever acked. Closing twice is harmless.
 */
public interface Subscription extends AutoCloseable {

    Subscribe spec();

    default String topic() {
        return spec().topic();
    }

    default String group() {
        return spec().group();
    }

    /** Stops handing new messages to the handler; running ones finish. Idempotent. */
    void pause();

    /** Resumes after {@link #pause()}. Idempotent. */
    void resume();

    boolean isPaused();

    /** Closes with the spec's drain timeout. */
    @Override
    default void close() {
        close(spec().drainTimeout());
    }

    /** Closes, waiting at most {@code drainTimeout} for running handlers. */
    void close(Duration drainTimeout);

    boolean isClosed();
}
