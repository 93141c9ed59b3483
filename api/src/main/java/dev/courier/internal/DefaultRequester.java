package dev.courier.internal;

import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.RequestFailedException;
import dev.courier.Requester;
import dev.courier.spi.Binding;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Request-reply over the binding: encodes, correlates, decodes, and turns error replies into
 * exceptions. Requests still waiting for their reply when the Courier closes fail with
 * {@link ClosedException} then ({@link #close()}), whatever their timeout: the timers that would
 * end them stop with the Courier.
 */
final class DefaultRequester implements Requester {

    /** The longest timeout a request is given: longer ones (meant as "no timeout") would overflow the timers' nanoseconds. */
    static final Duration LONGEST_TIMEOUT = Duration.ofDays(365);

    private final Binding binding;
    private final Codecs codecs;
    private final Supplier<Boolean> closed;
    /** For callers that pass no timeout ({@code courier.request.timeout}). */
    private final Duration defaultTimeout;
    /** Requests whose reply has not come yet. */
    private final Set<Waiting> waiting = ConcurrentHashMap.newKeySet();

    /** A request's stage as the caller holds it. */
    private static final class Waiting extends CompletableFuture<Message> {
        final String topic;

        Waiting(String topic) {
            this.topic = topic;
        }
    }

    DefaultRequester(Binding binding, Codecs codecs, Supplier<Boolean> closed, Duration defaultTimeout) {
        this.binding = binding;
        this.codecs = codecs;
        this.closed = closed;
        this.defaultTimeout = defaultTimeout;
    }

    @Override
    public <T> CompletionStage<T> request(String topic, Object payload, Class<T> replyType, Duration timeout) {
        Objects.requireNonNull(replyType, "replyType");
        Message request;
        try {
            request = codecs.encode(topic, payload).build();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return request(request, timeout).thenApply(reply -> codecs.decode(reply, replyType));
    }

    @Override
    public CompletionStage<Message> request(Message request, Duration timeout) {
        Objects.requireNonNull(request, "request");
        if (timeout == null) {
            timeout = defaultTimeout;
        } else if (timeout.isNegative() || timeout.isZero()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("request timeout must be positive (or null for "
                    + CourierConfig.REQUEST_TIMEOUT + "), was " + timeout));
        } else if (timeout.compareTo(LONGEST_TIMEOUT) > 0) {
            timeout = LONGEST_TIMEOUT;
        }
        if (closed.get()) {
            return CompletableFuture.failedFuture(new ClosedException("courier"));
        }
        Message withCorrelation = request.header(HeaderNames.CORRELATION_ID) != null ? request
                : request.toBuilder().header(HeaderNames.CORRELATION_ID, Message.newId()).build();
        Waiting result = new Waiting(request.topic());
        waiting.add(result);
        if (closed.get()) {
            // closed meanwhile: close() may have failed the waiting requests before this one was added
            waiting.remove(result);
            return CompletableFuture.failedFuture(new ClosedException("courier"));
        }
        CompletionStage<Message> reply;
        try {
            reply = binding.request(withCorrelation, timeout);
        } catch (RuntimeException e) {
            waiting.remove(result);
            return CompletableFuture.failedFuture(e);
        }
        reply.whenComplete((m, e) -> {
            waiting.remove(result);
            if (e != null) {
                result.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
                return;
            }
            String error = m.header(HeaderNames.REPLY_ERROR);
            if (error != null) {
                result.completeExceptionally(new RequestFailedException(request.topic(), error));
            } else {
                result.complete(m);
            }
        });
        return result;
    }

    /** Fails every request still waiting for its reply; the Courier is closing. */
    void close() {
        for (Waiting w : waiting) {
            waiting.remove(w);
            w.completeExceptionally(ClosedException.cutShort("the request to '" + w.topic + "'"));
        }
    }
}
