package dev.courier;

/**
 * Base of every error Courier raises. Unchecked, and each subtype says what went wrong, on which
 * destination, and what to do next.
 *
 * <p>{@link #isRetriable()} decides retry by type: a transient broker fault is worth retrying, a
 * payload that cannot be decoded is not.
 */
public class CourierException extends RuntimeException {

    public CourierException(String message) {
        super(message);
    }

    public CourierException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Whether trying the same operation again may succeed. Defaults to {@code false}. */
    public boolean isRetriable() {
        return false;
    }
}
