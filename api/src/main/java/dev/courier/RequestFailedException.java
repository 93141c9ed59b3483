package dev.courier;

/** The responder received the request but its handler failed; the message carries its error text. */
public class RequestFailedException extends CourierException {

    private final String topic;

    public RequestFailedException(String topic, String responderError) {
        super("responder on '" + topic + "' failed: " + responderError);
        this.topic = topic;
    }

    public String topic() {
        return topic;
    }
}
