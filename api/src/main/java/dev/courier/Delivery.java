package dev.courier;

import java.time.Duration;

/**
 * One delivery of a message to a handler.
 *
 * <p>Settlement: a synchronous handler that returns normally acks the message, one that throws
 * reports a failure (redelivered after the subscription's delay, dead-lettered after
 * {@link Subscribe#maxAttempts(int)} deliveries, or at once for a {@link NonRetryableException} or
 * an undecodable payload). A handler may settle explicitly with {@link #ack()}, {@link #nack(Duration)}
 * or {@link #deadLetter(String)}; the first settlement wins and later ones are ignored. An
 * asynchronous handler that returns {@code null} promises to settle explicitly.
 *
 * <p>A settlement made while the handler is still running (a synchronous handler that acks and goes
 * on working, or a settlement from another thread meanwhile) takes effect when the handler
 * returns: until then the delivery keeps its key ({@link Ordering#BY_KEY}) and its concurrency
 * permit and a redelivery it asked for does not start. Closing the subscription applies it at once
 * (a closing subscription takes no new messages), so it counts even if the handler outlives the
 * drain. {@link #isSettled()} is true at once.
 *
 * <p>Thread-safe; settlement methods may be called from any thread.
 */
public interface Delivery {

    Message message();

    /** Decodes the payload as {@code type}; a {@link CodecException} makes the delivery a dead letter. */
    <T> T payload(Class<T> type);

    /** Decodes the payload with the type its sender recorded, when trusted (see {@link Codecs}). */
    Object payload();

    /** 1 for the first delivery, 2 for the first redelivery, and so on. */
    int attempt();

    DeliveryMetadata metadata();

    /** The topic this delivery came from. */
    default String topic() {
        return message().topic();
    }

    /** The group of the subscription, or {@code null} for broadcast. */
    String group();

    /** Acknowledges: the message is done and will not be delivered again to this group. */
    void ack();

    /** Asks for redelivery after the subscription's redelivery delay. */
    default void nack() {
        nack(null);
    }

    /** Asks for redelivery after {@code delay} ({@code null}: the subscription's default). */
    void nack(Duration delay);

    /**
     * Sends the message to the subscription's dead-letter destination with {@code reason} in its
     * headers; the original is acked only after the dead-letter publish was confirmed.
     */
    void deadLetter(String reason);

    /** Whether this delivery has been settled (acked, nacked or dead-lettered). */
    boolean isSettled();

    /**
     * The binding's native object of {@code type} behind this delivery (e.g. Kafka's
     * {@code ConsumerRecord}, amqp-client's {@code Envelope}, jnats' {@code Message}).
     *
     * @throws IllegalArgumentException if the binding has no object of that type
     */
    <T> T unwrap(Class<T> type);
}
