package dev.courier.spi;

import dev.courier.DeliveryMetadata;
import dev.courier.Message;

import java.time.Duration;

/**
 * A message as a binding received it, with the native means to settle it. The core calls exactly
 * one of {@link #ack()}, {@link #nack(Duration)} or {@link #reject()} exactly once per delivery;
 * bindings may rely on that. Settlement methods may be called from any thread.
 */
public interface InboundDelivery {

    Message message();

    /** 1 for the first delivery; from the broker's count or the {@code courier-attempt} header. */
    int attempt();

    DeliveryMetadata metadata();

    /** The native object of {@code type}, or {@code null} if there is none. */
    <T> T unwrap(Class<T> type);

    /** The message is done. */
    void ack();

    /** Deliver again after {@code delay} (never null; may be zero) with the attempt count incremented. */
    void nack(Duration delay);

    /**
     * The message was dead-lettered by the core (its dead-letter publish is confirmed): remove it
     * from the source for good (ack, or JetStream term).
     */
    void reject();
}
