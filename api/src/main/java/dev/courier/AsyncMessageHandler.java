package dev.courier;

import java.util.concurrent.CompletionStage;

/**
 * Handles one delivery asynchronously without holding a thread: the returned stage completing
 * normally acks, completing exceptionally reports a failure. Returning {@code null} means the
 * handler settles explicitly through {@link Delivery#ack()} and friends. The delivery counts
 * against the subscription's concurrency until it is settled.
 */
@FunctionalInterface
public interface AsyncMessageHandler {
    CompletionStage<?> handle(Delivery delivery);
}
