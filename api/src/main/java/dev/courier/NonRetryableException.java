package dev.courier;

/**
 * Thrown (or used as a cause) by a handler to say that processing this message again cannot
 * succeed: the failure policy dead-letters it at once instead of redelivering it.
 */
public class NonRetryableException extends CourierException {

    public NonRetryableException(String message) {
        super(message);
    }

    public NonRetryableException(String message, Throwable cause) {
        super(message, cause);
    }
}
