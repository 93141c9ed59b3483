package dev.courier.rabbitmq;

/**
 * Message headers the RabbitMQ binding reads when publishing and turns into AMQP properties or
 * flags; they are not sent as AMQP headers. Set them with {@code Message.Builder.header(...)}:
 * other bindings ignore them, so portable code stays portable.
 */
public final class RabbitHeaders {

    /** {@code true} to publish with the mandatory flag: a message no queue takes fails with {@link UnroutableMessageException}. */
    public static final String MANDATORY = "courier-rabbitmq-mandatory";
    /** Message priority 0 to 255 (AMQP {@code priority}), honoured by queues declared with a max priority. */
    public static final String PRIORITY = "courier-rabbitmq-priority";
    /** Per-message TTL in milliseconds (AMQP {@code expiration}). */
    public static final String EXPIRATION = "courier-rabbitmq-expiration";

    /** AMQP header carrying the message key, so consumers see the key whatever routing key was used. */
    static final String KEY = "courier-key";
    /** AMQP header with the publish time in milliseconds (the AMQP timestamp has whole seconds only). */
    static final String TIMESTAMP_MS = "timestamp_in_ms";

    private RabbitHeaders() {
    }
}
