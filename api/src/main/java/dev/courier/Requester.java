package dev.courier;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * Sends requests and awaits one reply each. The stage fails with {@link RequestTimeoutException}
 * after the timeout, with {@link NoResponderException} at once where the broker can tell nobody
 * listens, and with {@link RequestFailedException} when the responder threw. No pending request
 * outlives its timeout, nor its Courier: requests still waiting when it closes fail then with
 * {@link ClosedException}. Thread-safe.
 */
public interface Requester {

    <T> CompletionStage<T> request(String topic, Object payload, Class<T> replyType, Duration timeout);

    /** Sends a prepared request message; the reply arrives undecoded. */
    CompletionStage<Message> request(Message request, Duration timeout);
}
