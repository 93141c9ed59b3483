package dev.courier.kafka;

import dev.courier.reliability.offset.OrderingMode;

import java.util.Objects;

/**
 * Kafka-specific subscription options, passed with {@code Subscribe.with(...)}:
 * {@code Subscribe.to("payments").group("ledger").with(KafkaSubscribeOptions.ordering(OrderingMode.PARTITION))}.
 *
 * @param ordering how the offset-commit coordinator orders records: PARTITION (one at a time per
 *                 partition), KEY (parallel across keys, in order per key) or UNORDERED
 */
public record KafkaSubscribeOptions(OrderingMode ordering) {

    public KafkaSubscribeOptions {
        Objects.requireNonNull(ordering, "ordering");
    }

    /** Overrides the ordering that {@code Subscribe.ordering(...)} would choose. */
    public static KafkaSubscribeOptions ordering(OrderingMode mode) {
        return new KafkaSubscribeOptions(mode);
    }
}
