package dev.courier.internal;

import dev.courier.Codecs;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.RequestFailedException;
import dev.courier.Requester;
import dev.courier.spi.Binding;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** Request-reply over the binding: encodes, correlates, decodes, and turns error replies into exceptions. */
final class DefaultRequester implements Requester {

    private final Binding binding;
    private final Codecs codecs;
    private final Supplier<Boolean> closed;

    DefaultRequester(Binding binding, Codecs codecs, Supplier<Boolean> closed) {
        this.binding = binding;
        this.codecs = codecs;
        this.closed = closed;
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
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("request timeout must be positive, was " + timeout));
        }
        if (closed.get()) {
            return CompletableFuture.failedFuture(new dev.courier.ClosedException("courier"));
        }
        Message withCorrelation = request.header(HeaderNames.CORRELATION_ID) != null ? request
                : request.toBuilder().header(HeaderNames.CORRELATION_ID, Message.newId()).build();
        CompletionStage<Message> reply;
        try {
            reply = binding.request(withCorrelation, timeout);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return reply.thenApply(m -> {
            String error = m.header(HeaderNames.REPLY_ERROR);
            if (error != null) {
                throw new RequestFailedException(request.topic(), error);
            }
            return m;
        });
    }
}
