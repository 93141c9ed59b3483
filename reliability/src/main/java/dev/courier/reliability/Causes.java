package dev.courier.reliability;

import java.util.function.Predicate;

/** Walks cause chains, which may be cyclic ({@code initCause} allows A -> B -> A). */
final class Causes {

    /** Links followed at most: far more than real chains have, and a cycle ends there. */
    static final int MAX_DEPTH = 64;

    private Causes() {
    }

    /** Whether {@code failure} or one of its first {@value #MAX_DEPTH} causes matches {@code test}. */
    static boolean any(Throwable failure, Predicate<Throwable> test) {
        Throwable c = failure;
        for (int depth = 0; c != null && depth < MAX_DEPTH; depth++) {
            if (test.test(c)) {
                return true;
            }
            Throwable next = c.getCause();
            if (next == c) {
                break;
            }
            c = next;
        }
        return false;
    }

    /** The first of {@code failure} and its first {@value #MAX_DEPTH} causes that is a {@code type}, or null. */
    static <T extends Throwable> T find(Throwable failure, Class<T> type) {
        Throwable c = failure;
        for (int depth = 0; c != null && depth < MAX_DEPTH; depth++) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
            Throwable next = c.getCause();
            if (next == c) {
                break;
            }
            c = next;
        }
        return null;
    }
}
