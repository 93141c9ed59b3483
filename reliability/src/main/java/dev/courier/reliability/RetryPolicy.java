package dev.courier.reliability;

import dev.courier.CodecException;
import dev.courier.NonRetryableException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * How a failing handler is tried again: first {@link #attempts(int) in process} with exponential
 * backoff and jitter (the delivery stays unsettled meanwhile, no thread waits), then
 * {@link #thenRedeliverAfter(Duration...) by the broker} after each given delay, then the message
 * is dead-lettered. Immutable: every method returns a new policy.
 *
 * <pre>{@code
 * RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(5))
 *     .attempts(3).jitter(0.5)
 *     .neverRetryOn(IllegalArgumentException.class)
 *     .thenRedeliverAfter(Duration.ofMinutes(1), Duration.ofMinutes(10));
 * }</pre>
 *
 * <p>A failure is never retried when a {@link NonRetryableException} or {@link CodecException} is
 * anywhere in its cause chain, when one of the {@link #neverRetryOn} classes is, or when
 * {@link #retryOn} says no: such a message is dead-lettered after its first attempt.
 */
public final class RetryPolicy {

    /** Default in-process attempts per delivery: {@value}. */
    public static final int DEFAULT_ATTEMPTS = 3;
    /** Default first backoff: 100 ms. */
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);
    /** Default backoff multiplier: {@value}. */
    public static final double DEFAULT_MULTIPLIER = 2.0;
    /** Default longest backoff: 5 s. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);
    /** The longest max backoff a policy accepts. */
    static final Duration MAX_BACKOFF_LIMIT = Duration.ofDays(365);

    /** Default jitter: {@value} (each backoff is drawn from ±50 % around its nominal value). */
    public static final double DEFAULT_JITTER = 0.5;

    private final Duration initial;
    private final double multiplier;
    private final Duration max;
    private final int attempts;
    private final double jitter;
    private final Predicate<Throwable> retryOn;
    private final List<Class<? extends Throwable>> never;
    private final List<Duration> redeliverAfter;

    private RetryPolicy(Duration initial, double multiplier, Duration max, int attempts, double jitter,
                        Predicate<Throwable> retryOn, List<Class<? extends Throwable>> never, List<Duration> redeliverAfter) {
        this.initial = initial;
        this.multiplier = multiplier;
        this.max = max;
        this.attempts = attempts;
        this.jitter = jitter;
        this.retryOn = retryOn;
        this.never = List.copyOf(never);
        this.redeliverAfter = List.copyOf(redeliverAfter);
    }

    /** The defaults: 3 attempts, 100 ms doubling up to 5 s, jitter 0.5, no broker redelivery. */
    public static RetryPolicy ofDefaults() {
        return exponential(DEFAULT_INITIAL_BACKOFF, DEFAULT_MULTIPLIER, DEFAULT_MAX_BACKOFF);
    }

    /**
     * Exponential backoff: {@code initial}, then times {@code multiplier} per attempt, never more
     * than {@code max} before jitter; {@value #DEFAULT_ATTEMPTS} attempts and jitter {@value #DEFAULT_JITTER} until changed.
     *
     * @throws IllegalArgumentException if {@code initial} is under 1 ms, {@code multiplier} is
     *                                  below 1, or {@code max} is shorter than {@code initial} or
     *                                  longer than 365 days
     */
    public static RetryPolicy exponential(Duration initial, double multiplier, Duration max) {
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(max, "max");
        if (initial.compareTo(Duration.ofMillis(1)) < 0) {
            throw new IllegalArgumentException("initial backoff must be at least 1ms, was " + initial);
        }
        if (max.compareTo(MAX_BACKOFF_LIMIT) > 0) {
            throw new IllegalArgumentException("max backoff must be at most " + MAX_BACKOFF_LIMIT.toDays() + " days, was " + max
                    + " (a backoff keeps its delivery unsettled: for longer waits dead-letter the message and redrive it later)");
        }
        if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("backoff multiplier must be 1.0 or more, was " + multiplier);
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("max backoff " + max + " must not be shorter than the initial backoff " + initial);
        }
        return new RetryPolicy(initial, multiplier, max, DEFAULT_ATTEMPTS, DEFAULT_JITTER, t -> true, List.of(), List.of());
    }

    /** A fixed backoff between in-process attempts (with the policy's jitter). */
    public static RetryPolicy fixed(Duration backoff) {
        return exponential(backoff, 1.0, backoff);
    }

    /** No in-process retry: one attempt per delivery; add {@link #thenRedeliverAfter} for broker retries. */
    public static RetryPolicy none() {
        return ofDefaults().attempts(1);
    }

    /**
     * In-process attempts per delivery, the first included (1 = no in-process retry).
     *
     * @throws IllegalArgumentException unless 1 to 100
     */
    public RetryPolicy attempts(int attempts) {
        if (attempts < 1 || attempts > 100) {
            throw new IllegalArgumentException("in-process attempts must be 1 to 100, was " + attempts);
        }
        return new RetryPolicy(initial, multiplier, max, attempts, jitter, retryOn, never, redeliverAfter);
    }

    /**
     * Randomizes each backoff by up to ±{@code jitter} of its value, so consumers that failed
     * together do not retry together. It applies after the cap: a backoff that reached
     * {@code max} is drawn from {@code max * (1 ± jitter)}.
     *
     * @throws IllegalArgumentException unless 0 (none) up to, but not including, 1
     */
    public RetryPolicy jitter(double jitter) {
        if (!(jitter >= 0 && jitter < 1)) {
            throw new IllegalArgumentException("jitter must be at least 0 and below 1, was " + jitter);
        }
        return new RetryPolicy(initial, multiplier, max, attempts, jitter, retryOn, never, redeliverAfter);
    }

    /**
     * Retries only failures {@code predicate} accepts (it sees the handler's exception); others are
     * dead-lettered at once. Non-retryable and codec failures are never retried regardless.
     */
    public RetryPolicy retryOn(Predicate<Throwable> predicate) {
        Objects.requireNonNull(predicate, "predicate");
        return new RetryPolicy(initial, multiplier, max, attempts, jitter, predicate, never, redeliverAfter);
    }

    /** Never retries a failure with one of {@code types} in its cause chain: it is dead-lettered at once. */
    @SafeVarargs
    public final RetryPolicy neverRetryOn(Class<? extends Throwable>... types) {
        List<Class<? extends Throwable>> all = new ArrayList<>(never);
        for (Class<? extends Throwable> t : types) {
            all.add(Objects.requireNonNull(t, "type"));
        }
        return new RetryPolicy(initial, multiplier, max, attempts, jitter, retryOn, all, redeliverAfter);
    }

    /**
     * After the in-process attempts of a delivery failed, sends the message back to the broker to be
     * delivered again after each of {@code delays} in turn ({@link dev.courier.Outcome#nack}); when
     * they are used up the message is dead-lettered. Each redelivery gets the in-process attempts
     * again. See docs/reliability.md for what each broker does with the delay.
     *
     * @throws IllegalArgumentException if a delay is negative
     */
    public RetryPolicy thenRedeliverAfter(Duration... delays) {
        List<Duration> list = new ArrayList<>();
        for (Duration d : delays) {
            Objects.requireNonNull(d, "delay");
            if (d.isNegative()) {
                throw new IllegalArgumentException("redelivery delays must be zero or more, was " + d);
            }
            list.add(d);
        }
        return new RetryPolicy(initial, multiplier, max, attempts, jitter, retryOn, never, list);
    }

    public int attempts() {
        return attempts;
    }

    public double jitter() {
        return jitter;
    }

    public Duration initialBackoff() {
        return initial;
    }

    public double multiplier() {
        return multiplier;
    }

    public Duration maxBackoff() {
        return max;
    }

    /** The broker redelivery delays, in order; empty if the broker does not retry. */
    public List<Duration> redeliverAfter() {
        return redeliverAfter;
    }

    /**
     * The backoff before in-process attempt {@code failedAttempt + 1}: the nominal backoff
     * ({@code initial * multiplier^(failedAttempt - 1)}, capped at {@code max}), then drawn
     * uniformly from ±jitter around it. The jitter applies to the capped value too, so consumers
     * that keep failing together do not retry in step once they reach {@code max}.
     */
    Duration backoffAfter(int failedAttempt) {
        double nominal = Math.min(initial.toMillis() * Math.pow(multiplier, Math.max(0, failedAttempt - 1)), max.toMillis());
        if (jitter == 0) {
            return Duration.ofMillis(Math.round(nominal));
        }
        double drawn = nominal * (1 - jitter + 2 * jitter * ThreadLocalRandom.current().nextDouble());
        return Duration.ofMillis(Math.max(1, Math.round(drawn)));
    }

    /** Whether {@code failure} may be tried again at all. */
    boolean isRetryable(Throwable failure) {
        boolean refused = Causes.any(failure, c -> {
            if (c instanceof NonRetryableException || c instanceof CodecException) {
                return true;
            }
            for (Class<? extends Throwable> t : never) {
                if (t.isInstance(c)) {
                    return true;
                }
            }
            return false;
        });
        return !refused && retryOn.test(failure);
    }

    @Override
    public String toString() {
        return "RetryPolicy{attempts=" + attempts + ", backoff=" + initial.toMillis() + "ms*" + multiplier + " up to " + max.toMillis()
                + "ms, jitter=" + jitter + ", redeliverAfter=" + redeliverAfter + '}';
    }
}
