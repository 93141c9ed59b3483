package dev.courier.internal;

import dev.courier.AsyncMessageHandler;
import dev.courier.Codecs;
import dev.courier.Delivery;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.MessageHandler;
import dev.courier.Outcome;
import dev.courier.RequestHandler;
import dev.courier.spi.Binding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/** The last link of a chain for each kind of handler. */
final class Terminals {

    private static final Logger log = LoggerFactory.getLogger(Terminals.class);

    private Terminals() {
    }

    /** What every handler run that returned normally completes with. */
    private static final CompletionStage<Outcome> ACKED = new SharedStage<>(Outcome.ack());

    static Function<Delivery, CompletionStage<Outcome>> of(MessageHandler handler) {
        return d -> {
            try {
                handler.handle(d);
                return ACKED;
            } catch (Exception | Error e) {
                return CompletableFuture.completedFuture(Outcome.failed(e));
            }
        };
    }

    static Function<Delivery, CompletionStage<Outcome>> of(AsyncMessageHandler handler) {
        return d -> {
            CompletionStage<?> stage;
            try {
                stage = handler.handle(d);
            } catch (Throwable e) {
                // handle() declares no checked exception, yet Kotlin and sneaky throws raise them: a failure like any other
                return CompletableFuture.completedFuture(Outcome.failed(e));
            }
            if (stage == null) {
                // the handler settles explicitly; the chain ends with the marker and the delivery's own settlement counts
                if (d instanceof DeliveryImpl impl) {
                    return impl.done().thenApply(v -> SubscriptionPipeline.PENDING);
                }
                return CompletableFuture.completedFuture(Outcome.failed(new IllegalStateException(
                        "an async handler returned null for a delivery an interceptor replaced; it cannot settle it explicitly")));
            }
            return stage.handle((r, e) -> e == null ? Outcome.ack() : Outcome.failed(SubscriptionPipeline.unwrap(e)));
        };
    }

    /** Runs the request handler and sends its result, or its error, back to the requester. */
    static Function<Delivery, CompletionStage<Outcome>> of(RequestHandler handler, Binding binding, Codecs codecs) {
        return d -> {
            Message request = d.message();
            String correlation = request.header(HeaderNames.CORRELATION_ID);
            Message.Builder reply;
            try {
                Object result = handler.handle(d);
                reply = codecs.encode(request.topic(), result == null ? new byte[0] : result);
            } catch (Exception | Error e) {
                log.debug("responder on '{}' failed for request {}", request.topic(), request.id(), e);
                reply = Message.builder(request.topic()).header(HeaderNames.REPLY_ERROR,
                        e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : ""));
            }
            if (correlation != null) {
                reply.header(HeaderNames.CORRELATION_ID, correlation);
            }
            CompletionStage<?> sent;
            try {
                sent = binding.reply(request, reply.build());
            } catch (RuntimeException e) {
                sent = CompletableFuture.failedFuture(e);
            }
            return sent.handle((r, e) -> {
                if (e != null) {
                    // the requester times out; acking avoids answering the same request twice later
                    log.warn("could not send the reply to request {} on '{}': {}", request.id(), request.topic(), e.toString());
                }
                return Outcome.ack();
            });
        };
    }
}
