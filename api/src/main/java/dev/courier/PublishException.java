package dev.courier;

/**
 * The broker did not confirm a publish: it nacked it, returned it as unroutable, or the connection
 * was lost before the confirm arrived. The message was not accepted and may be published again.
 */
public class PublishException extends CourierException {

    private final String topic;
    private final boolean retriable;

    public PublishException(String topic, String message, Throwable cause, boolean retriable) {
        super("publish to '" + topic + "' failed: " + message, cause);
        this.topic = topic;
        this.retriable = retriable;
    }

    public PublishException(String topic, String message, Throwable cause) {
        this(topic, message, cause, true);
    }

    /** The destination the message was meant for. */
    public String topic() {
        return topic;
    }

    @Override
    public boolean isRetriable() {
        return retriable;
    }
}
