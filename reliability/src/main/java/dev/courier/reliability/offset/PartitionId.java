package dev.courier.reliability.offset;

/**
 * Names one partition of a topic, for example {@code orders-3}.
 *
 * <p>Immutable value; safe to share between threads and to use as a map key.
 *
 * @param topic     the topic name, not blank
 * @param partition the partition number, zero or more
 */
public record PartitionId(String topic, int partition) {

    /**
     * Validates the parts.
     *
     * @throws IllegalArgumentException if the topic is null or blank or the partition is negative
     */
    public PartitionId {
        if (topic == null || topic.isBlank()) {
            throw new IllegalArgumentException("topic must be a non-blank name (was " + quoted(topic) + ")");
        }
        if (partition < 0) {
            throw new IllegalArgumentException(
                    "partition must be between 0 and " + Integer.MAX_VALUE + " (was " + partition + ")");
        }
    }

    /** Shorthand for {@code new PartitionId(topic, partition)}. */
    public static PartitionId of(String topic, int partition) {
        return new PartitionId(topic, partition);
    }

    /** Returns {@code topic-partition}, the form Kafka tools print. */
    @Override
    public String toString() {
        return topic + "-" + partition;
    }

    private static String quoted(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }
}
