package dev.courier;

import java.time.Duration;

/** No reply arrived within the request's timeout. Retriable: the responder may just be slow. */
public class RequestTimeoutException extends CourierException {

    private final String topic;
    private final Duration timeout;

    public RequestTimeoutException(String topic, Duration timeout) {
        super("no reply from '" + topic + "' within " + timeout.toMillis()
                + " ms; check that a responder is subscribed and healthy, or raise the timeout");
        this.topic = topic;
        this.timeout = timeout;
    }

    public String topic() {
        return topic;
    }

    public Duration timeout() {
        return timeout;
    }

    @Override
    public boolean isRetriable() {
        return true;
    }
}
