package dev.courier.reliability;

import dev.courier.Message;
import dev.courier.reliability.deadletter.DeadLetters;
import dev.courier.reliability.idempotency.IdempotencyStore;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;

/**
 * Processes each message once per group, with an {@link IdempotencyStore}: the key of a delivery is
 * {@code group + ":" + key(message)} (by default the message id; {@code "*:" + ...} for broadcast
 * subscriptions, which then share keys with every other broadcast subscriber using the same
 * store). Immutable.
 *
 * <pre>{@code
 * Idempotency.with(store).key(m -> m.header("order-id")).lease(Duration.ofMinutes(5)).retention(Duration.ofDays(1))
 * }</pre>
 */
public final class Idempotency {

    /** Default lease of a claim: 5 minutes (longer than a handler ever runs, retries included). */
    public static final Duration DEFAULT_LEASE = Duration.ofMinutes(5);
    /** Default time a processed key is remembered: 1 day. */
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(1);
    /** Default delay before a duplicate that arrived while the original was still processing is delivered again: 5 s. */
    public static final Duration DEFAULT_IN_PROGRESS_RETRY_DELAY = Duration.ofSeconds(5);

    private final IdempotencyStore store;
    private final Function<Message, String> key;
    private final Duration lease;
    private final Duration retention;
    private final Duration inProgressRetryDelay;

    private Idempotency(IdempotencyStore store, Function<Message, String> key, Duration lease, Duration retention,
                        Duration inProgressRetryDelay) {
        this.store = store;
        this.key = key;
        this.lease = lease;
        this.retention = retention;
        this.inProgressRetryDelay = inProgressRetryDelay;
    }

    /** Idempotency backed by {@code store}, keyed by message id, with the default lease and retention. */
    public static Idempotency with(IdempotencyStore store) {
        return new Idempotency(Objects.requireNonNull(store, "store"), Idempotency::originalId, DEFAULT_LEASE, DEFAULT_RETENTION,
                DEFAULT_IN_PROGRESS_RETRY_DELAY);
    }

    /** The id a message had when first published: a redriven copy keeps it in {@link DeadLetters#ORIGINAL_ID}. */
    private static String originalId(Message m) {
        String original = m.header(DeadLetters.ORIGINAL_ID);
        return original == null || original.isEmpty() ? m.id() : original;
    }

    /** What identifies a message: by default its id (the original id of a redriven dead letter). The function must return a non-empty string. */
    public Idempotency key(Function<Message, String> key) {
        return new Idempotency(store, Objects.requireNonNull(key, "key"), lease, retention, inProgressRetryDelay);
    }

    /**
     * How long a claim holds when its holder dies without completing or releasing it. Must be
     * longer than one delivery's processing, in-process retries included, or a redelivery may be
     * processed while the first is still running.
     */
    public Idempotency lease(Duration lease) {
        return new Idempotency(store, key, positive(lease, "lease"), retention, inProgressRetryDelay);
    }

    /** How long a processed key is remembered; duplicates arriving later are processed again. */
    public Idempotency retention(Duration retention) {
        return new Idempotency(store, key, lease, positive(retention, "retention"), inProgressRetryDelay);
    }

    /** The redelivery delay of a duplicate that arrives while the original is still being processed. */
    public Idempotency inProgressRetryDelay(Duration delay) {
        return new Idempotency(store, key, lease, retention, positive(delay, "inProgressRetryDelay"));
    }

    public IdempotencyStore store() {
        return store;
    }

    public Duration lease() {
        return lease;
    }

    public Duration retention() {
        return retention;
    }

    public Duration inProgressRetryDelay() {
        return inProgressRetryDelay;
    }

    /** The store key of {@code message} consumed by {@code group} ({@code null} for broadcast). */
    String keyOf(String group, Message message) {
        String k = key.apply(message);
        if (k == null || k.isEmpty()) {
            throw new IllegalStateException("the idempotency key function returned " + (k == null ? "null" : "an empty string")
                    + " for message " + message.id() + " on '" + message.topic() + "'; it must return a non-empty key");
        }
        return (group == null ? "*" : group) + ":" + k;
    }

    private static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, was " + d);
        }
        return d;
    }

    @Override
    public String toString() {
        return "Idempotency{store=" + store.getClass().getSimpleName() + ", lease=" + lease + ", retention=" + retention + '}';
    }
}
