package dev.courier;

/** How a subscription orders the handling of its messages. */
public enum Ordering {
    /** Messages may be handled in any order, up to the subscription's concurrency at once. */
    NONE,
    /**
     * Messages with the same key are handled one at a time, in the order the broker delivered
     * them; different keys run in parallel. Messages without a key are not ordered.
     */
    BY_KEY
}
