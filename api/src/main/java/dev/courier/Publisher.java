package dev.courier;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Publishes messages asynchronously. Every returned stage completes when the broker has confirmed
 * the message (Kafka ack, RabbitMQ publisher confirm, JetStream PubAck; NATS core on flush), and
 * fails with a {@link PublishException} or {@link BrokerUnavailableException} when it did not; a
 * failed publish was not accepted and may be retried. Publishing never blocks the caller per
 * message.
 *
 * <p>Where a stage completes, and so where code chained onto it with the non-{@code Async} methods
 * runs: where the broker's answer arrives (the client's I/O thread, or one of the binding's own; on
 * Kafka often a thread publishing at the time, see its binding's docs; on {@code mem://} the
 * publishing thread, before {@code publish} returns), so keep such code short and never wait in it
 * for another publish's confirm. A publish failed when {@link CourierConfig#PUBLISH_TIMEOUT} passed,
 * and one that waited for room in a full {@code mem://} topic, complete on a handler thread, never on
 * the Courier's timer thread: code chained onto them may block (a retry that waits for its own
 * publish, say) without holding up other publishes' or requests' timeouts. On Kafka the producer
 * enforces the publish timeout itself by default; its failures complete where its answers do. Chain
 * with an executor of yours ({@code whenCompleteAsync(action, executor)}) for code that may block on
 * a confirm.
 *
 * <p>Thread-safe. {@link #close()} refuses new publishes and waits for the outstanding ones to be
 * confirmed (bounded by {@link CourierConfig#CLOSE_TIMEOUT}); publishing after close fails with
 * {@link ClosedException}.
 */
public interface Publisher extends AutoCloseable {

    /** Encodes {@code payload} with the codecs and publishes it without a key. */
    default CompletionStage<PublishReceipt> publish(String topic, Object payload) {
        return publish(message(topic, payload).build());
    }

    /** Encodes {@code payload} and publishes it with {@code key} (ordering / partition key). */
    default CompletionStage<PublishReceipt> publish(String topic, String key, Object payload) {
        return publish(message(topic, payload).key(key).build());
    }

    CompletionStage<PublishReceipt> publish(Message message);

    /**
     * Publishes all messages, pipelined; the stage completes when all are confirmed, or fails with
     * the first failure (the others may still have been accepted: check the per-message stages of
     * {@link #publish(Message)} when that matters).
     */
    CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages);

    /** Starts a message for {@code topic} with {@code payload} encoded; add key and headers, then publish. */
    Message.Builder message(String topic, Object payload);

    /** Number of publishes accepted and not yet confirmed or failed. */
    int outstanding();

    @Override
    void close();
}
