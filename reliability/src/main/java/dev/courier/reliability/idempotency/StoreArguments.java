package dev.courier.reliability.idempotency;

import java.time.Duration;

/** Argument checks shared by the stores, so every store rejects the same input with the same words. */
final class StoreArguments {

    private StoreArguments() {
    }

    static String key(String key, int maxLength) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("idempotency key must be a non-empty string, got "
                    + (key == null ? "null" : "''"));
        }
        if (key.length() > maxLength) {
            throw new IllegalArgumentException("idempotency key is " + key.length() + " characters long; at most "
                    + maxLength + " are allowed (hash longer keys, e.g. SHA-256 in hex)");
        }
        return key;
    }

    static String owner(String owner, int maxLength) {
        if (owner == null || owner.isEmpty()) {
            throw new IllegalArgumentException("owner must be a non-empty token unique to one processing attempt "
                    + "(e.g. a random UUID), got " + (owner == null ? "null" : "''"));
        }
        if (owner.length() > maxLength) {
            throw new IllegalArgumentException("owner token is " + owner.length() + " characters long; at most "
                    + maxLength + " are allowed");
        }
        return owner;
    }

    /** A positive duration of at least one millisecond, returned in milliseconds. */
    static long millis(String name, Duration d) {
        if (d == null) {
            throw new IllegalArgumentException(name + " must be a positive duration, got null");
        }
        if (d.isNegative() || d.isZero() || d.compareTo(Duration.ofMillis(1)) < 0) {
            throw new IllegalArgumentException(name + " must be at least 1ms, got " + d);
        }
        try {
            return d.toMillis();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + " is too long: " + d, e);
        }
    }
}
