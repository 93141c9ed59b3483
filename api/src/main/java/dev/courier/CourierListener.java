package dev.courier;

/**
 * Observes what a {@link Courier} does, for metrics and logs, without taking part in it. Every
 * method has an empty default; implement the ones you need. Methods run on Courier's threads and
 * must be quick and never throw (whatever they throw, an {@link Error} included, is logged and
 * ignored).
 */
public interface CourierListener {

    /** A publish was confirmed by the broker. */
    default void published(Message message, PublishReceipt receipt) {
    }

    /** A publish failed. */
    default void publishFailed(Message message, Throwable error) {
    }

    /** A delivery reached the handler chain. */
    default void received(Delivery delivery) {
    }

    /** The chain settled a delivery with {@code outcome}. */
    default void settled(Delivery delivery, Outcome outcome) {
    }

    /** A delivery was published to {@code deadLetterTopic} and the original acked. */
    default void deadLettered(Delivery delivery, String deadLetterTopic, String reason) {
    }

    /** Dead-lettering failed; the original was not acked and will be redelivered. */
    default void deadLetterFailed(Delivery delivery, String deadLetterTopic, Throwable error) {
    }

    /**
     * A handler attempt failed and will be tried again: in process after {@code delay}
     * ({@code inProcess}), or by the broker after {@code delay}.
     *
     * @param attempt the attempt that failed, 1-based, counting in-process and broker attempts
     */
    default void retrying(Delivery delivery, int attempt, java.time.Duration delay, boolean inProcess, Throwable cause) {
    }

    /** A delivery was recognised as a duplicate of one already processed (or being processed) and skipped. */
    default void duplicateSkipped(Delivery delivery, String idempotencyKey, boolean stillInProgress) {
    }

    /**
     * A circuit breaker around the handlers of {@code subscription} changed state
     * ({@code CLOSED}, {@code OPEN}, {@code HALF_OPEN}, ...).
     */
    default void circuitStateChanged(Subscribe subscription, String breakerName, String fromState, String toState) {
    }

    /** A handler attempt ran longer than the configured timeout and was counted as failed. */
    default void handlerTimedOut(Delivery delivery, java.time.Duration timeout) {
    }

    /** No-op listener. */
    CourierListener NONE = new CourierListener() {
    };
}
