package dev.courier;

/**
 * Handles one delivery synchronously: return to ack, throw to report a failure. Called from a
 * handler thread; with {@link Ordering#BY_KEY} never concurrently for the same key.
 */
@FunctionalInterface
public interface MessageHandler {
    void handle(Delivery delivery) throws Exception;
}
