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
        storable("idempotency key", key);
        return key;
    }

    /**
     * Refuses what a store cannot keep as given: a NUL character (PostgreSQL refuses it in text)
     * and an unpaired surrogate (encoded as '?' on the way to the database or Redis, so two
     * different keys would become one). Every store refuses them, so keys move between stores.
     */
    private static void storable(String what, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            String problem = null;
            if (c == '\0') {
                problem = "a NUL character";
            } else if (Character.isHighSurrogate(c)) {
                if (i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                    i++;
                    continue;
                }
                problem = "an unpaired surrogate";
            } else if (Character.isLowSurrogate(c)) {
                problem = "an unpaired surrogate";
            }
            if (problem != null) {
                throw new IllegalArgumentException(what + " contains " + problem + " at index " + i
                        + ", which the stores cannot keep as it is; remove it, or hash the value (e.g. SHA-256 in hex)");
            }
        }
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
        storable("owner token", owner);
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
