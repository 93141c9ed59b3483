package dev.courier;

import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * Where a delivered message sits in its broker: Kafka partition and offset, JetStream stream
 * sequence, RabbitMQ delivery tag, and whether the broker flagged it as a redelivery. Fields a
 * broker does not have are empty. Immutable. For everything else, {@link Delivery#unwrap(Class)}
 * reaches the native delivery.
 */
public final class DeliveryMetadata {

    private static final DeliveryMetadata NONE = new DeliveryMetadata(-1, -1, -1, -1, false);

    private final int partition;
    private final long offset;
    private final long sequence;
    private final long deliveryTag;
    private final boolean redelivered;

    private DeliveryMetadata(int partition, long offset, long sequence, long deliveryTag, boolean redelivered) {
        this.partition = partition;
        this.offset = offset;
        this.sequence = sequence;
        this.deliveryTag = deliveryTag;
        this.redelivered = redelivered;
    }

    public static DeliveryMetadata none() {
        return NONE;
    }

    /** Kafka-style position. */
    public static DeliveryMetadata partitionOffset(int partition, long offset) {
        return new DeliveryMetadata(partition, offset, -1, -1, false);
    }

    /** Log-style position (JetStream stream sequence, in-memory log index). */
    public static DeliveryMetadata sequence(long sequence, boolean redelivered) {
        return new DeliveryMetadata(-1, -1, sequence, -1, redelivered);
    }

    /** AMQP-style delivery. */
    public static DeliveryMetadata deliveryTag(long deliveryTag, boolean redelivered) {
        return new DeliveryMetadata(-1, -1, -1, deliveryTag, redelivered);
    }

    public OptionalInt partition() {
        return partition < 0 ? OptionalInt.empty() : OptionalInt.of(partition);
    }

    public OptionalLong offset() {
        return offset < 0 ? OptionalLong.empty() : OptionalLong.of(offset);
    }

    public OptionalLong sequence() {
        return sequence < 0 ? OptionalLong.empty() : OptionalLong.of(sequence);
    }

    public OptionalLong deliveryTag() {
        return deliveryTag < 0 ? OptionalLong.empty() : OptionalLong.of(deliveryTag);
    }

    public boolean redelivered() {
        return redelivered;
    }

    /** A short human-readable position, e.g. {@code partition=2 offset=17}, for logs and dead-letter headers. */
    public String position() {
        StringBuilder sb = new StringBuilder();
        if (partition >= 0) {
            sb.append("partition=").append(partition);
        }
        if (offset >= 0) {
            sb.append(sb.length() > 0 ? " " : "").append("offset=").append(offset);
        }
        if (sequence >= 0) {
            sb.append(sb.length() > 0 ? " " : "").append("sequence=").append(sequence);
        }
        if (deliveryTag >= 0) {
            sb.append(sb.length() > 0 ? " " : "").append("deliveryTag=").append(deliveryTag);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "DeliveryMetadata{" + position() + (redelivered ? " redelivered" : "") + '}';
    }
}
