package dev.courier.spi;

import dev.courier.Capabilities;
import dev.courier.Message;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One open connection to a broker, as the core of Courier sees it. Codecs, validation, the handler
 * chain, the failure policy, dead-lettering and request correlation live in the core; a binding
 * moves bytes and settles deliveries. All methods are thread-safe.
 */
public interface Binding extends AutoCloseable {

    Capabilities capabilities();

    /**
     * Publishes {@code message}; the stage completes when the broker confirmed it and fails with a
     * {@link dev.courier.PublishException} (or {@link dev.courier.BrokerUnavailableException})
     * otherwise. Must not block the caller waiting for the confirm. A stage the binding fails from a
     * timer of its own (a publish timeout, on the scheduler's thread) completes on the context's
     * handler executor (inline only when it refuses, as the Courier closes): the publisher's code
     * chained onto it may block. One the broker's answer settles may complete where it arrives.
     */
    CompletionStage<PublishReceipt> publish(Message message);

    /**
     * Publishes {@code message} and settles {@code result} exactly as {@link #publish(Message)}
     * would settle its stage: completed with the receipt once the broker confirmed, or failed. The
     * core publishes through this method with a future of its own that carries the publish timeout
     * and the listener callback, so a binding whose client confirms through a callback can override
     * it and complete {@code result} directly, one future per publish instead of two. The default
     * calls {@link #publish(Message)} and copies its outcome. Must not block waiting for the
     * confirm; {@code result} may already be complete (timed out) when the broker answers.
     */
    default void publishInto(Message message, CompletableFuture<PublishReceipt> result) {
        CompletionStage<PublishReceipt> stage;
        try {
            stage = publish(message);
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
            return;
        }
        stage.whenComplete((r, e) -> {
            if (e == null) {
                result.complete(r);
            } else {
                result.completeExceptionally(e);
            }
        });
    }

    /**
     * Whether {@link #publishInto} is done with the message's payload array when it returns: the
     * client copied the bytes into its own buffers (or failed) before returning, and nothing the
     * binding keeps refers to the array. The core then hands a {@code byte[]} given to
     * {@code publish(topic, key, bytes)} to the binding without the defensive copy it otherwise
     * makes, as long as nothing else (a listener) keeps the message. False by default.
     */
    default boolean copiesPayloadOnPublish() {
        return false;
    }

    /**
     * Whether the binding itself settles every future given to {@link #publishInto} within
     * {@code timeout} ({@code courier.publish.timeout}) of the call: its client fails what the broker
     * has not confirmed by then, and any wait of the binding's own is bounded by it too. The core
     * then leaves the publish timeout to the binding instead of tracking every publish for it. False
     * by default.
     */
    default boolean settlesPublishesWithin(Duration timeout) {
        return false;
    }

    /** Publishes several messages, pipelined. The default calls {@link #publish(Message)} for each. */
    default CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages) {
        List<CompletableFuture<PublishReceipt>> futures = new ArrayList<>(messages.size());
        for (Message m : messages) {
            futures.add(publish(m).toCompletableFuture());
        }
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).thenApply(v -> {
            List<PublishReceipt> out = new ArrayList<>(futures.size());
            for (CompletableFuture<PublishReceipt> f : futures) {
                out.add(f.join());
            }
            return out;
        });
    }

    /**
     * Starts consuming per {@code spec} and hands each delivery to {@code processor}, honouring the
     * spec's concurrency, ordering and max in-flight ({@link OrderedDispatcher} does that for
     * bindings without a better native mechanism). Deliveries must be run on the context's handler
     * executor or another executor, never on the broker client's I/O thread.
     */
    BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor);

    /**
     * Starts answering requests sent to {@code spec.topic()} with {@link #request}; the processor's
     * chain sends the reply through {@link #reply}. The default subscribes like
     * {@link #subscribe}, for brokers where requests are ordinary messages of the topic; a binding
     * whose requests travel apart (NATS core subjects) overrides it so plain subscribers never see
     * requests and responders see nothing else.
     */
    default BindingSubscription respond(Subscribe spec, DeliveryProcessor processor) {
        return subscribe(spec, processor);
    }

    /**
     * Sends {@code request} and completes with the first reply correlated to it
     * ({@link dev.courier.HeaderNames#CORRELATION_ID} is already set by the core). Fails with
     * {@link dev.courier.RequestTimeoutException} after {@code timeout}, or earlier with
     * {@link dev.courier.NoResponderException} where the broker can tell. Must not leak state for
     * requests that timed out. A stage completed later completes on the context's handler executor
     * (inline only when it refuses, as the Courier closes), never on the scheduler's thread or a
     * client's I/O thread: the requester's code chained onto it may block.
     */
    CompletionStage<Message> request(Message request, Duration timeout);

    /** Sends {@code reply} to wherever {@code request} asked replies to go. */
    CompletionStage<PublishReceipt> reply(Message request, Message reply);

    /** Releases the connection. Courier closes subscriptions and waits for publishes before calling this. */
    @Override
    void close();
}
