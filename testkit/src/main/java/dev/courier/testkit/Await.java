package dev.courier.testkit;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Bounded polling for asynchronous tests: wait until a condition holds, failing after a generous
 * timeout with what was expected and what was seen last. Never use a fixed sleep as an assertion;
 * poll for the state instead. Immutable and thread-safe.
 *
 * <pre>{@code
 * Await.atMost(Duration.ofSeconds(30)).until("100 orders handled", () -> handled.size() >= 100, handled::size);
 * }</pre>
 */
public final class Await {

    /** Default patience: long enough for a loaded shared machine, short enough to fail a broken build. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private static final Await DEFAULT = new Await(DEFAULT_TIMEOUT);

    private final Duration timeout;

    private Await(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("await timeout must be positive, was " + timeout);
        }
        this.timeout = timeout;
    }

    /** Waits at most {@link #DEFAULT_TIMEOUT}. */
    public static Await await() {
        return DEFAULT;
    }

    public static Await atMost(Duration timeout) {
        return new Await(timeout);
    }

    /**
     * A callback for {@code whenComplete} that counts down {@code entered} and then blocks until
     * {@code release} opens (a blocking retry, say): for tests that code chained onto one stage
     * holds up nothing else.
     */
    public static <T> BiConsumer<T, Throwable> blockingCallback(CountDownLatch entered, CountDownLatch release) {
        return (value, failure) -> {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        };
    }

    public Duration timeout() {
        return timeout;
    }

    /** Polls until {@code condition} is true; fails with {@code expectation} otherwise. */
    public void until(String expectation, BooleanSupplier condition) {
        until(expectation, condition, () -> "(nothing reported)");
    }

    /**
     * Polls until {@code condition} is true; on timeout fails with an {@link AssertionError} naming
     * {@code expectation} and the last value of {@code seen}.
     */
    public void until(String expectation, BooleanSupplier condition, Supplier<?> seen) {
        Objects.requireNonNull(condition, "condition");
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 1;
        while (true) {
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + describe(timeout) + " waiting until " + expectation
                        + "; last seen: " + safe(seen));
            }
            sleep(pause);
            pause = Math.min(50, pause * 2);
        }
    }

    /** Polls until {@code value} returns non-null and returns it. */
    public <T> T value(String expectation, Supplier<T> value) {
        Object[] last = new Object[1];
        until(expectation, () -> (last[0] = value.get()) != null, () -> null);
        @SuppressWarnings("unchecked")
        T t = (T) last[0];
        return t;
    }

    /**
     * Checks that {@code condition} stays true for the whole of {@code window}; fails as soon as it
     * is false. For "nothing more arrives" checks, where some window is unavoidable.
     */
    public static void holdsFor(Duration window, String expectation, BooleanSupplier condition, Supplier<?> seen) {
        long deadline = System.nanoTime() + window.toNanos();
        do {
            if (!condition.getAsBoolean()) {
                throw new AssertionError("expected " + expectation + " for " + describe(window) + ", but it stopped holding; seen: "
                        + safe(seen));
            }
            sleep(10);
        } while (System.nanoTime() - deadline < 0);
        if (!condition.getAsBoolean()) {
            throw new AssertionError("expected " + expectation + " for " + describe(window) + ", but it stopped holding; seen: " + safe(seen));
        }
    }

    private static String safe(Supplier<?> seen) {
        try {
            return String.valueOf(seen.get());
        } catch (RuntimeException e) {
            return "(could not describe: " + e + ")";
        }
    }

    static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting", e);
        }
    }
}
