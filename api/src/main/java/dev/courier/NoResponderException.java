package dev.courier;

/**
 * A request was sent to a destination that has no responder, and the broker said so at once
 * (see {@link Capability#NO_RESPONDER_DETECTION}). Retriable: a responder may subscribe later.
 */
public class NoResponderException extends CourierException {

    private final String topic;

    public NoResponderException(String topic) {
        super("no responder is subscribed to '" + topic + "'; start one with Courier.respond(...) "
                + "before sending requests to it");
        this.topic = topic;
    }

    public String topic() {
        return topic;
    }

    @Override
    public boolean isRetriable() {
        return true;
    }
}
