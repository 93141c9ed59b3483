package dev.courier;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * Sends requests and awaits one reply each. The stage fails with {@link RequestTimeoutException}
 * after the timeout, with {@link NoResponderException} at once where the broker can tell nobody
 * listens, and with {@link RequestFailedException} when the responder threw. No pending request
 * outlives its timeout, nor its Courier: requests still waiting when it closes fail then with
 * {@link ClosedException}. A reply or timeout completes the stage on a handler thread, never on a
 * broker client's I/O thread or the Courier's timer thread, so code chained onto it may block (wait
 * for another request, say) without holding up other requests' replies or timeouts. Thread-safe.
 */
public interface Requester {

    /**
     * Encodes {@code payload}, sends it to {@code topic} and decodes the reply as {@code replyType}.
     *
     * @param timeout how long to wait for the reply; null for {@code courier.request.timeout}
     *                (default 30s); longer than 365 days counts as 365 days; zero or negative fails
     *                the stage with {@link IllegalArgumentException}
     */
    <T> CompletionStage<T> request(String topic, Object payload, Class<T> replyType, Duration timeout);

    /** Sends a prepared request message; the reply arrives undecoded. {@code timeout} as above. */
    CompletionStage<Message> request(Message request, Duration timeout);
}
