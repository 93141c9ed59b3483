package dev.courier;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What the handler chain decided for a delivery. Immutable.
 *
 * <ul>
 *   <li>{@link Kind#ACK}: done.</li>
 *   <li>{@link Kind#NACK}: deliver again after a delay; never dead-letters the message by itself,
 *       though the redelivery counts as a delivery in {@link Delivery#attempt()}.</li>
 *   <li>{@link Kind#FAILED}: the handler failed; the subscription's failure policy decides
 *       between redelivery and dead-lettering from the attempt count and the cause.</li>
 *   <li>{@link Kind#DEAD_LETTER}: publish to the dead-letter destination, then ack.</li>
 * </ul>
 */
public final class Outcome {

    /** The kinds of outcome. */
    public enum Kind { ACK, NACK, FAILED, DEAD_LETTER }

    private static final Outcome ACK = new Outcome(Kind.ACK, null, null, null, Map.of());

    private final Kind kind;
    private final Duration delay;
    private final String reason;
    private final Throwable cause;
    private final Map<String, String> headers;

    private Outcome(Kind kind, Duration delay, String reason, Throwable cause, Map<String, String> headers) {
        this.kind = kind;
        this.delay = delay;
        this.reason = reason;
        this.cause = cause;
        this.headers = headers;
    }

    public static Outcome ack() {
        return ACK;
    }

    /** Redeliver after {@code delay}, or after the subscription's default delay when {@code null}. */
    public static Outcome nack(Duration delay) {
        return new Outcome(Kind.NACK, delay, null, null, Map.of());
    }

    public static Outcome failed(Throwable cause) {
        return new Outcome(Kind.FAILED, null, null, Objects.requireNonNull(cause, "cause"), Map.of());
    }

    public static Outcome deadLetter(String reason, Throwable cause) {
        return new Outcome(Kind.DEAD_LETTER, null, Objects.requireNonNull(reason, "reason"), cause, Map.of());
    }

    /**
     * This outcome with {@code headers} added to the dead letter it produces (for instance
     * {@link HeaderNames#DLQ_FIRST_FAILURE}); ignored by other kinds.
     */
    public Outcome withDeadLetterHeaders(Map<String, String> headers) {
        Map<String, String> merged = new LinkedHashMap<>(this.headers);
        merged.putAll(headers);
        return new Outcome(kind, delay, reason, cause, Collections.unmodifiableMap(merged));
    }

    /** Headers to add to the dead letter this outcome produces; empty unless set. */
    public Map<String, String> deadLetterHeaders() {
        return headers;
    }

    public Kind kind() {
        return kind;
    }

    /** The redelivery delay of a NACK, or {@code null} for the default. */
    public Duration delay() {
        return delay;
    }

    /** The reason of a DEAD_LETTER. */
    public String reason() {
        return reason;
    }

    /** The failure behind a FAILED or DEAD_LETTER outcome, if any. */
    public Throwable cause() {
        return cause;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ACK -> "ACK";
            case NACK -> "NACK(" + (delay == null ? "default delay" : delay.toMillis() + " ms") + ")";
            case FAILED -> "FAILED(" + cause + ")";
            case DEAD_LETTER -> "DEAD_LETTER(" + reason + ")";
        };
    }
}
