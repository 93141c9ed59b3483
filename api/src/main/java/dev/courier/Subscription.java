package dev.courier;

import java.time.Duration;

/**
 * A running subscription. Thread-safe.
 *
 * <p>{@link #close()} stops taking new messages, waits up to the drain timeout for running
 * handlers to finish and settle, and gives every message that was received but not started back
 * to the broker unacknowledged, so nothing unprocessed is ever acked. Closing twice is harmless.
 *
 * <p>A handler may close its own subscription ("take one message, then stop"). Called on the
 * thread that runs one of this subscription's handlers, {@code close()} starts the close and
 * returns without waiting for the drain, since the drain waits for that very handler; the
 * delivery it is handling is settled as usual when the handler returns (a handler that returns
 * normally acks it), and the drain completes then. A handler that goes on running past the drain
 * timeout loses its delivery like any other. An asynchronous handler's stage runs elsewhere: a
 * close() from its continuation on another thread waits like any close().
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

    /**
     * Resumes after {@link #pause()}. Idempotent. A pause of the handler chain's own (an open
     * circuit breaker) holds on until the chain ends it; likewise the chain's resume does not undo
     * this subscription's {@link #pause()}.
     */
    void resume();

    /** Whether no new messages are handed to the handler: paused by {@link #pause()} or by the handler chain (an open circuit breaker). */
    boolean isPaused();

    /** Closes with the spec's drain timeout. */
    @Override
    default void close() {
        close(spec().drainTimeout());
    }

    /**
     * Closes, waiting at most {@code drainTimeout} for running handlers; from inside one of this
     * subscription's handlers, returns without waiting (see above). A null or negative
     * {@code drainTimeout} is refused with an {@link IllegalArgumentException} before anything closes.
     */
    void close(Duration drainTimeout);

    boolean isClosed();
}
