package dev.courier;

/**
 * The broker's confirmation of a publish: which message, where it was stored when the broker
 * tells (Kafka partition/offset, JetStream sequence), and whether the broker dropped it as a
 * duplicate of an earlier message id.
 */
public record PublishReceipt(String messageId, String topic, DeliveryMetadata position, boolean duplicate) {

    public static PublishReceipt of(Message m) {
        return new PublishReceipt(m.id(), m.topic(), DeliveryMetadata.none(), false);
    }
}
