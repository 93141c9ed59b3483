package dev.courier;

/**
 * The header names Courier itself reads and writes, in one place. Every binding carries them as
 * native headers (Kafka record headers, AMQP properties and headers, NATS headers), so a message
 * published through one binding and consumed through another keeps them.
 */
public final class HeaderNames {

    /** Prefix of every Courier header; application headers should not start with it. */
    public static final String PREFIX = "courier-";

    /** Message id, on brokers without a native message-id field (Kafka, NATS). */
    public static final String MESSAGE_ID = "courier-id";
    /** Content type, on brokers without a native content-type field (Kafka, NATS). */
    public static final String CONTENT_TYPE = "courier-content-type";
    /** Publish time in epoch milliseconds, on brokers without a native timestamp (NATS core). */
    public static final String TIMESTAMP = "courier-timestamp";
    /** The message key, on brokers where the key is not a native field (RabbitMQ with routing patterns, NATS). */
    public static final String KEY = "courier-key";

    /** Fully qualified name of the payload's Java type, written by the JSON codec. */
    public static final String PAYLOAD_TYPE = "courier-type";
    /** Correlation id linking a reply to its request. */
    public static final String CORRELATION_ID = "courier-correlation-id";
    /** Where the responder should send the reply (binding-specific address). */
    public static final String REPLY_TO = "courier-reply-to";
    /** Set on a reply whose responder failed: the error text. The requester fails the future with it. */
    public static final String REPLY_ERROR = "courier-reply-error";
    /** Attempt count carried across broker redeliveries that do not count natively. */
    public static final String ATTEMPT = "courier-attempt";
    /** A message waiting in a retry topic: when it is due again, in epoch milliseconds. */
    public static final String RETRY_AT = "courier-retry-at";

    /** Why a message was dead-lettered: the reason given, or the failure's message. */
    public static final String DLQ_REASON = "courier-dlq-reason";
    /** Class name of the exception that caused the dead-lettering, if any. */
    public static final String DLQ_EXCEPTION = "courier-dlq-exception";
    /** The exception's stack trace, truncated to a few kilobytes. */
    public static final String DLQ_STACK = "courier-dlq-stack";
    /** The topic the message was consumed from. */
    public static final String DLQ_ORIGINAL_TOPIC = "courier-dlq-original-topic";
    /** The group that gave up on the message; empty for a broadcast subscription. */
    public static final String DLQ_ORIGINAL_GROUP = "courier-dlq-original-group";
    /** How many times the message was delivered before it was dead-lettered. */
    public static final String DLQ_ATTEMPTS = "courier-dlq-attempts";
    /** When it was dead-lettered (ISO-8601 instant). */
    public static final String DLQ_TIME = "courier-dlq-time";
    /** Where it sat in the original destination: partition/offset or sequence, as the binding knows it. */
    public static final String DLQ_POSITION = "courier-dlq-position";

    /** Dead letters: the message of the failure that dead-lettered the message. */
    public static final String DLQ_EXCEPTION_MESSAGE = "courier-dlq-exception-message";

    /**
     * Dead letters: when the first attempt failed (ISO-8601), where known: on a first attempt, from
     * {@link #FIRST_FAILURE}, or from the reliability layer, which remembers it in process. Absent
     * when a redelivered message failed and no earlier failure time travelled with it.
     */
    public static final String DLQ_FIRST_FAILURE = "courier-dlq-first-failure";

    /** Dead letters: when the last attempt failed (ISO-8601). */
    public static final String DLQ_LAST_FAILURE = "courier-dlq-last-failure";

    /**
     * Carried by a message the reliability layer sent back to the broker for a delayed retry: when
     * its first attempt failed (ISO-8601), so the dead letter can say so.
     */
    public static final String FIRST_FAILURE = "courier-first-failure";

    private HeaderNames() {
    }
}
