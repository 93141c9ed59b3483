package dev.courier.reliability.idempotency;

import dev.courier.CourierException;

/**
 * A call to an {@link IdempotencyStore} failed: the database or Redis could not be reached, timed
 * out or refused the command. The message names the store (table or key prefix, with any password
 * masked) and the operation. Retriable: the store may come back, and no claim was taken by a call
 * that failed (an uncertain claim simply runs out with its lease).
 */
public class IdempotencyStoreException extends CourierException {

    private final boolean retriable;

    /** A retriable failure. */
    public IdempotencyStoreException(String message, Throwable cause) {
        this(message, cause, true);
    }

    /** A failure that is retriable only if {@code retriable}. */
    public IdempotencyStoreException(String message, Throwable cause, boolean retriable) {
        super(message, cause);
        this.retriable = retriable;
    }

    @Override
    public boolean isRetriable() {
        return retriable;
    }
}
