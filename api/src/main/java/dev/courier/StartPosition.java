package dev.courier;

import java.time.Instant;
import java.util.Objects;

/**
 * Where a subscription starts reading when it has no stored position of its own. A group that has
 * consumed before resumes where it left off whatever this says.
 */
public final class StartPosition {

    /** Kinds of start positions. */
    public enum Kind { DEFAULT, EARLIEST, LATEST, TIME, SEQUENCE }

    private static final StartPosition DEFAULT = new StartPosition(Kind.DEFAULT, null, -1);
    private static final StartPosition EARLIEST = new StartPosition(Kind.EARLIEST, null, -1);
    private static final StartPosition LATEST = new StartPosition(Kind.LATEST, null, -1);

    private final Kind kind;
    private final Instant time;
    private final long sequence;

    private StartPosition(Kind kind, Instant time, long sequence) {
        this.kind = kind;
        this.time = time;
        this.sequence = sequence;
    }

    /** Groups start at the earliest retained message, broadcast subscriptions at the latest. */
    public static StartPosition defaults() {
        return DEFAULT;
    }

    /** The earliest message the broker still retains (needs {@link Capability#REPLAY}). */
    public static StartPosition earliest() {
        return EARLIEST;
    }

    /** Only messages published after the subscription started. */
    public static StartPosition latest() {
        return LATEST;
    }

    /** The first message published at or after {@code time} (needs {@link Capability#REPLAY}). */
    public static StartPosition at(Instant time) {
        return new StartPosition(Kind.TIME, Objects.requireNonNull(time, "time"), -1);
    }

    /** A broker sequence or offset (JetStream stream sequence, in-memory log position). */
    public static StartPosition sequence(long sequence) {
        if (sequence < 0) {
            throw new IllegalArgumentException("sequence must be >= 0, was " + sequence);
        }
        return new StartPosition(Kind.SEQUENCE, null, sequence);
    }

    public Kind kind() {
        return kind;
    }

    /** The time for {@link Kind#TIME}, else null. */
    public Instant time() {
        return time;
    }

    /** The sequence for {@link Kind#SEQUENCE}, else -1. */
    public long sequence() {
        return sequence;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StartPosition p && p.kind == kind && Objects.equals(p.time, time) && p.sequence == sequence;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, time, sequence);
    }

    @Override
    public String toString() {
        return switch (kind) {
            case TIME -> "at(" + time + ")";
            case SEQUENCE -> "sequence(" + sequence + ")";
            default -> kind.name().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
