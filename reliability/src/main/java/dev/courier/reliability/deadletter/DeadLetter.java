package dev.courier.reliability.deadletter;

import dev.courier.HeaderNames;
import dev.courier.Message;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Optional;

/**
 * One message in a dead-letter destination, with the failure information the subscription wrote
 * into its {@code courier-dlq-*} headers parsed. Immutable. Fields a dead letter does not carry
 * (for instance one published by hand) are empty strings, zero or {@link Optional#empty()}.
 */
public final class DeadLetter {

    private final Message message;

    private DeadLetter(Message message) {
        this.message = Objects.requireNonNull(message, "message");
    }

    /** Reads the failure information of {@code message}, a message from a dead-letter destination. */
    public static DeadLetter of(Message message) {
        return new DeadLetter(message);
    }

    /** The message as it sits in the dead-letter destination: original bytes, key and headers plus the failure headers. */
    public Message message() {
        return message;
    }

    /** The id of the message in the dead-letter destination. */
    public String id() {
        return message.id();
    }

    /**
     * The id the message had when it was first published: the {@link DeadLetters#ORIGINAL_ID} header
     * when a redrive gave it a new id, else {@link #id()}.
     */
    public String originalId() {
        String original = message.header(DeadLetters.ORIGINAL_ID);
        return original == null || original.isEmpty() ? message.id() : original;
    }

    /** The dead-letter destination this was read from. */
    public String deadLetterTopic() {
        return message.topic();
    }

    /** Why it was dead-lettered ({@link HeaderNames#DLQ_REASON}). */
    public String reason() {
        return text(HeaderNames.DLQ_REASON);
    }

    /** Class name of the exception that dead-lettered it; empty when it was dead-lettered without one. */
    public String exceptionClass() {
        return text(HeaderNames.DLQ_EXCEPTION);
    }

    /** The exception's message; empty when none. */
    public String exceptionMessage() {
        return text(HeaderNames.DLQ_EXCEPTION_MESSAGE);
    }

    /** The exception's stack trace, truncated; empty when none. */
    public String stackTrace() {
        return text(HeaderNames.DLQ_STACK);
    }

    /** The topic it was consumed from; empty when the header is missing (then a redrive needs {@link Redrive#to(String)}). */
    public String originalTopic() {
        return text(HeaderNames.DLQ_ORIGINAL_TOPIC);
    }

    /** The group that gave up on it; empty for a broadcast subscription. */
    public String originalGroup() {
        return text(HeaderNames.DLQ_ORIGINAL_GROUP);
    }

    /** How many deliveries it had before it was dead-lettered; 0 when unknown. */
    public int attempts() {
        try {
            return Integer.parseInt(text(HeaderNames.DLQ_ATTEMPTS));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** When it was dead-lettered. */
    public Optional<Instant> deadLetteredAt() {
        return instant(HeaderNames.DLQ_TIME);
    }

    /** When its first attempt failed, where known. */
    public Optional<Instant> firstFailure() {
        return instant(HeaderNames.DLQ_FIRST_FAILURE);
    }

    /** When its last attempt failed, where known. */
    public Optional<Instant> lastFailure() {
        return instant(HeaderNames.DLQ_LAST_FAILURE);
    }

    /** Where it sat in the original destination ({@code partition=2 offset=17}, {@code sequence=9}, ...); empty when unknown. */
    public String position() {
        return text(HeaderNames.DLQ_POSITION);
    }

    private String text(String header) {
        String v = message.header(header);
        return v == null ? "" : v;
    }

    private Optional<Instant> instant(String header) {
        String v = message.header(header);
        if (v == null || v.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Instant.parse(v));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return "DeadLetter{id=" + id() + ", from=" + originalTopic() + "/" + originalGroup() + ", attempts=" + attempts()
                + ", exception=" + exceptionClass() + ", reason=" + reason() + '}';
    }
}
