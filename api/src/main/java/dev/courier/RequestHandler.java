package dev.courier;

/**
 * Answers a request: the returned object is encoded and sent back as the reply. Throwing sends an
 * error reply, so the requester fails at once instead of waiting for its timeout.
 */
@FunctionalInterface
public interface RequestHandler {
    Object handle(Delivery request) throws Exception;
}
