package dev.courier.reliability;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Bounded polling for the asynchronous outcomes of these tests (never a fixed sleep as an assertion). */
final class Poll {

    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private Poll() {
    }

    static void until(String expectation, BooleanSupplier condition, Supplier<?> seen) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + TIMEOUT.toSeconds() + " s waiting until " + expectation + "; last seen: " + seen.get());
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
    }
}
