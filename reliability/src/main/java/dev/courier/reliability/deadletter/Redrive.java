package dev.courier.reliability.deadletter;

import dev.courier.Destinations;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * What a {@link DeadLetters#redrive(Redrive)} moves: from which dead-letter destination, to where,
 * which dead letters, how many at most, and when to stop. Immutable; each method returns a new
 * instance. Arguments are checked when set.
 *
 * <pre>{@code
 * Redrive.from("orders.billing.dlq")
 *        .filter(dl -> dl.exceptionClass().equals("java.net.ConnectException"))
 *        .limit(1000).idleTimeout(Duration.ofSeconds(2))
 * }</pre>
 */
public final class Redrive {

    /** Default bound on dead letters one redrive looks at. */
    public static final int DEFAULT_LIMIT = 100_000;
    /** Default time without a new dead letter after which a redrive stops. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(5);

    private final String from;
    private final String to;
    private final Predicate<DeadLetter> filter;
    private final int limit;
    private final Duration idleTimeout;

    private Redrive(String from, String to, Predicate<DeadLetter> filter, int limit, Duration idleTimeout) {
        this.from = from;
        this.to = to;
        this.filter = filter;
        this.limit = limit;
        this.idleTimeout = idleTimeout;
    }

    /** Redrives the dead letters of {@code deadLetterTopic}, each to its original topic, all selected. */
    public static Redrive from(String deadLetterTopic) {
        return new Redrive(Destinations.checkTopic(deadLetterTopic), null, dl -> true, DEFAULT_LIMIT, DEFAULT_IDLE_TIMEOUT);
    }

    /** Publishes every redriven message to {@code topic} instead of its original topic. */
    public Redrive to(String topic) {
        return new Redrive(from, Destinations.checkTopic(topic), filter, limit, idleTimeout);
    }

    /**
     * Redrives only the dead letters {@code filter} selects; the others stay in the dead-letter
     * destination. A filter that throws counts the dead letter as failed and leaves it there.
     */
    public Redrive filter(Predicate<DeadLetter> filter) {
        return new Redrive(from, to, Objects.requireNonNull(filter, "filter"), limit, idleTimeout);
    }

    /** Looks at {@code limit} dead letters at most (redriven, skipped and failed together), 1 or more. */
    public Redrive limit(int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be at least 1, was " + limit);
        }
        return new Redrive(from, to, filter, limit, idleTimeout);
    }

    /**
     * Stops once no new dead letter arrived for this long (counted from when the subscription is
     * ready too, so it must cover the broker's first delivery after a subscribe). Positive.
     */
    public Redrive idleTimeout(Duration idleTimeout) {
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout must be positive, was " + idleTimeout);
        }
        return new Redrive(from, to, filter, limit, idleTimeout);
    }

    /** The dead-letter destination. */
    public String from() {
        return from;
    }

    /** The destination chosen with {@link #to(String)}, or {@code null}: each message's original topic. */
    public String to() {
        return to;
    }

    public Predicate<DeadLetter> filter() {
        return filter;
    }

    public int limit() {
        return limit;
    }

    public Duration idleTimeout() {
        return idleTimeout;
    }

    @Override
    public String toString() {
        return "Redrive{from=" + from + ", to=" + (to == null ? "<original topic>" : to) + ", limit=" + limit
                + ", idleTimeout=" + idleTimeout + '}';
    }
}
