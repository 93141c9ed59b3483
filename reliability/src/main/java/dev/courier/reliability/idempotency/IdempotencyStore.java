package dev.courier.reliability.idempotency;

import java.time.Duration;

/**
 * Remembers which messages were processed, so a message delivered twice (published twice, or
 * redelivered after a consumer crashed) is processed once.
 *
 * <p>Protocol, per key: {@link #claim} before processing; on success {@link #complete} (the key
 * is then remembered for {@code retention}); on failure {@link #release}, so a retry can claim it
 * again. A claim is a lease: if its holder dies, the key can be claimed again once the lease has
 * run out. Every call names its {@code owner} (a token unique to one processing attempt), so a
 * holder whose lease expired cannot complete or release a claim that is no longer its own.
 *
 * <p>Calls may block (a database or network round trip); the reliability layer makes them on
 * handler threads. Implementations must be thread-safe.
 */
public interface IdempotencyStore extends AutoCloseable {

    /** The result of a {@link #claim}. */
    enum Claim {
        /** The caller holds the key now and may process the message. */
        ACQUIRED,
        /** Another owner holds a live lease on the key: the message is being processed elsewhere. */
        IN_PROGRESS,
        /** The key was processed successfully and is remembered: skip the message. */
        DONE
    }

    /**
     * Claims {@code key} for {@code owner} for {@code lease}, unless the key is done or another
     * owner's lease is still running.
     */
    Claim claim(String key, String owner, Duration lease);

    /**
     * Marks {@code key} done and remembers it for {@code retention}.
     *
     * @return {@code false} if {@code owner} no longer held the key (its lease ran out and another
     *         owner claimed it); the caller's work may then have been done twice
     */
    boolean complete(String key, String owner, Duration retention);

    /** Gives the key up after a failed attempt, if {@code owner} still holds it; otherwise does nothing. */
    void release(String key, String owner);

    /** Releases resources the store owns (connections it opened itself). */
    @Override
    default void close() {
    }
}
