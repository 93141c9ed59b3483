package dev.courier.reliability;

import dev.courier.CourierException;

import java.time.Duration;

/**
 * The failure recorded for a handler attempt that ran longer than the policy's handler timeout.
 * It is retryable: the attempt counts as failed and the retry policy decides what follows.
 */
public class HandlerTimeoutException extends CourierException {

    private final Duration timeout;

    public HandlerTimeoutException(String message, Duration timeout) {
        super(message);
        this.timeout = timeout;
    }

    /** The timeout the attempt exceeded. */
    public Duration timeout() {
        return timeout;
    }
}
