package dev.courier.internal;

import dev.courier.CodecException;
import dev.courier.Codecs;
import dev.courier.ConfigurationException;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Destinations;
import dev.courier.HeaderNames;
import dev.courier.Headers;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.NonRetryableException;
import dev.courier.Outcome;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.InboundDelivery;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * One subscription's processing: wraps each inbound delivery, runs the interceptor chain and the
 * handler, then applies the outcome: ack; nack with delay; a failure becomes a redelivery or,
 * once attempts are exhausted or the failure cannot be retried, a dead letter. A dead letter is
 * published to the dead-letter topic and the original is rejected only after the broker confirmed
 * that publish; if it fails the original is nacked, never dropped.
 *
 * <p>The dead-letter topic is checked when the pipeline is made, that is when the subscription is
 * created: checked only once a message failed, an invalid name could never take that message.
 */
public final class SubscriptionPipeline implements DeliveryProcessor {

    private static final Logger log = LoggerFactory.getLogger(SubscriptionPipeline.class);
    private static final int MAX_STACK_CHARS = 4096;
    /**
     * The pipeline whose handler runs on this thread: a handler that closes its own subscription
     * must not wait for the drain, which waits for that very handler.
     */
    private static final ThreadLocal<SubscriptionPipeline[]> HANDLING = ThreadLocal.withInitial(() -> new SubscriptionPipeline[1]);

    private final Subscribe spec;
    private final String deadLetterTopic;
    private final Binding binding;
    private final Codecs codecs;
    private final List<Interceptor> interceptors;
    private final CourierListener listener;
    private final Function<Delivery, CompletionStage<Outcome>> terminal;
    private final Executor continuation;
    private final HandlerChain.ChainContext chainContext;

    /**
     * @param continuation runs what follows a dead-letter confirm, so settling never happens on a
     *                     broker client's I/O thread (amqp-client's confirm listener, Kafka's
     *                     producer callback)
     */
    SubscriptionPipeline(Subscribe spec, Binding binding, Codecs codecs, List<Interceptor> interceptors,
                         CourierListener listener, Function<Delivery, CompletionStage<Outcome>> terminal, Executor continuation,
                         Interceptor.Flow flow) {
        this.spec = spec;
        this.deadLetterTopic = checkedDeadLetterTopic(spec);
        this.binding = binding;
        this.codecs = codecs;
        this.interceptors = List.copyOf(interceptors);
        this.listener = listener;
        this.terminal = marked(this, terminal);
        this.continuation = continuation;
        this.chainContext = new HandlerChain.ChainContext(continuation, flow, listener);
    }

    /**
     * The default dead-letter topic adds {@code .<group>.dlq} to a topic that may itself be up to
     * {@link Destinations#MAX_LENGTH} characters; refused here with what to change, rather than
     * failing every dead letter of the subscription later.
     */
    private static String checkedDeadLetterTopic(Subscribe spec) {
        String dlq = spec.deadLetterTopic();
        try {
            return Destinations.checkTopic(dlq);
        } catch (ConfigurationException e) {
            throw new ConfigurationException("the subscription to '" + abbreviate(spec.topic()) + "'"
                    + (spec.group() != null ? " in group '" + abbreviate(spec.group()) + "'" : "")
                    + " would dead-letter to '" + (spec.group() != null ? "<topic>.<group>.dlq" : "<topic>.dlq") + "', which is "
                    + dlq.length() + " characters; the limit is " + Destinations.MAX_LENGTH + ": shorten the topic"
                    + (spec.group() != null ? " or the group" : "")
                    + ", or name a dead-letter topic with Subscribe.deadLetterTopic(String)", e);
        }
    }

    private static String abbreviate(String name) {
        return name.length() <= 40 ? name : name.substring(0, 40) + "...";
    }

    /** {@code terminal}, marking the thread that runs it, wherever an interceptor chose to run it. */
    private static Function<Delivery, CompletionStage<Outcome>> marked(SubscriptionPipeline pipeline,
                                                                       Function<Delivery, CompletionStage<Outcome>> terminal) {
        return d -> {
            // one thread-local lookup per delivery: the slot is the thread's own
            SubscriptionPipeline[] slot = HANDLING.get();
            SubscriptionPipeline outer = slot[0];
            slot[0] = pipeline;
            try {
                return terminal.apply(d);
            } finally {
                slot[0] = outer;
            }
        };
    }

    /** True while the current thread runs a handler of any subscription. */
    static boolean isHandlingAny() {
        return HANDLING.get()[0] != null;
    }

    /** True while the current thread runs a handler of this pipeline's subscription. */
    boolean isHandlingHere() {
        return HANDLING.get()[0] == this;
    }

    @Override
    public CompletionStage<Void> process(InboundDelivery inbound) {
        DeliveryImpl delivery = new DeliveryImpl(inbound, this, codecs, spec.group());
        try {
            listener.received(delivery);
        } catch (Throwable e) {
            // an Error too (a failed assert in a test's listener): thrown on, it would leave the delivery unsettled
            log.warn("listener.received threw; ignored", e);
        }
        CompletionStage<Outcome> outcome;
        try {
            // with no interceptors the chain would only call the terminal: no chain object per record
            outcome = interceptors.isEmpty() ? delivery.runHandler(terminal, delivery)
                    : new HandlerChain(interceptors, 0, delivery, spec, terminal, chainContext, delivery).proceed(delivery);
        } catch (Throwable e) {
            // user code may throw checked exceptions its interface does not declare (Kotlin, sneaky throws): a failure too
            outcome = CompletableFuture.completedFuture(Outcome.failed(e));
        }
        CompletableFuture<Outcome> f = outcome.toCompletableFuture();
        if (f.isDone()) {
            settleFromChain(delivery, f);
        } else {
            f.whenComplete((o, e) -> settleFromChain(delivery, f));
        }
        return delivery.done();
    }

    private void settleFromChain(DeliveryImpl delivery, CompletableFuture<Outcome> f) {
        Outcome o;
        try {
            o = f.join();
            if (o == null) {
                o = Outcome.failed(new IllegalStateException("the handler chain completed with a null outcome"));
            }
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            o = Outcome.failed(unwrap(e));
        }
        if (o == PENDING) {
            return; // an async handler settles explicitly
        }
        delivery.settle(o);
    }

    /** Names of the headers a dead letter describes its failure with. */
    private static final String DLQ_HEADER_PREFIX = HeaderNames.PREFIX + "dlq-";

    /** Marker outcome of an async handler that returned null: it settles the delivery itself. */
    static final Outcome PENDING = Outcome.nack(Duration.ZERO);

    /** Deliveries whose settlement waits for their handler to return (rare: a handler that settled and went on). */
    private final Set<DeliveryImpl> deferred = ConcurrentHashMap.newKeySet();

    void deferred(DeliveryImpl d) {
        deferred.add(d);
    }

    void undeferred(DeliveryImpl d) {
        deferred.remove(d);
    }

    /** Settlements waiting for their handlers to return (for tests). */
    int deferredCount() {
        return deferred.size();
    }

    /**
     * Applies, now, the settlements still waiting for their handlers to return: for a close, which
     * may give up on its handlers before they return (drain timeout), so what they settled counts.
     */
    void applyDeferred() {
        for (DeliveryImpl d : deferred.toArray(DeliveryImpl[]::new)) {
            d.applyDeferredNow();
        }
    }

    /** Applies the first settlement of a delivery. Called once per delivery. */
    void apply(DeliveryImpl d, Outcome o) {
        try {
            listener.settled(d, o);
        } catch (Throwable e) {
            log.warn("listener.settled threw; ignored", e);
        }
        InboundDelivery in = d.inbound();
        // once the binding was asked to settle (or a dead-letter publish took the delivery over) it must not be asked again
        boolean handedOver = false;
        try {
            switch (o.kind()) {
                case ACK -> {
                    handedOver = true;
                    in.ack();
                    d.finished();
                }
                case NACK -> {
                    handedOver = true;
                    in.nack(o.delay() != null ? o.delay() : spec.redeliveryDelay());
                    d.finished();
                }
                case FAILED -> {
                    Throwable cause = o.cause();
                    if (isNonRetryable(cause)) {
                        deadLetter(d, reasonFor(cause), cause, Map.of());
                        handedOver = true;
                    } else if (d.attempt() >= spec.maxAttempts()) {
                        deadLetter(d, "gave up after " + d.attempt() + " attempt(s): " + describe(cause), cause, Map.of());
                        handedOver = true;
                    } else {
                        log.debug("handler failed on {} (attempt {} of {}); redelivering", d, d.attempt(), spec.maxAttempts(), cause);
                        handedOver = true;
                        in.nack(spec.redeliveryDelay());
                        d.finished();
                    }
                }
                case DEAD_LETTER -> {
                    deadLetter(d, o.reason(), o.cause(), o.deadLetterHeaders());
                    handedOver = true;
                }
                default -> throw new IllegalStateException("unknown outcome " + o);
            }
        } catch (RuntimeException e) {
            if (handedOver) {
                log.error("settling {} as {} failed; the broker will redeliver it", d, o, e);
            } else {
                // nothing reached the binding: left alone the delivery would hold its permit (and its key) until the subscription closes
                log.error("settling {} as {} failed; redelivering it", d, o, e);
                try {
                    in.nack(spec.redeliveryDelay());
                } catch (RuntimeException ex) {
                    log.error("nacking {} failed; the broker will redeliver it", d, ex);
                }
            }
            d.finished();
        }
    }

    /** Throws only before the delivery was handed to the dead-letter publish; from then on that settles it. */
    private void deadLetter(DeliveryImpl d, String reason, Throwable cause, Map<String, String> extraHeaders) {
        String dlq = deadLetterTopic;
        Message dead = deadLetterMessage(d, dlq, reason, cause, extraHeaders);
        CompletionStage<?> publish;
        try {
            publish = binding.publish(dead);
        } catch (RuntimeException e) {
            publish = CompletableFuture.failedFuture(e);
        }
        publish.whenCompleteAsync((r, e) -> {
            try {
                if (e == null) {
                    d.inbound().reject();
                    listener.deadLettered(d, dlq, reason);
                    log.warn("dead-lettered message {} from '{}' to '{}': {}", d.message().id(), spec.topic(), dlq, reason);
                } else {
                    log.error("dead-letter publish of message {} to '{}' failed; not acking the original, it will be redelivered",
                            d.message().id(), dlq, unwrap(e));
                    d.inbound().nack(spec.redeliveryDelay());
                    listener.deadLetterFailed(d, dlq, unwrap(e));
                }
            } catch (Throwable ex) {
                log.error("settling dead letter {} failed", d, ex);
            } finally {
                d.finished();
            }
        }, this::runAfterPublish);
    }

    private void runAfterPublish(Runnable r) {
        try {
            continuation.execute(r);
        } catch (RejectedExecutionException e) {
            r.run(); // the Courier is closing: settle inline rather than leave the delivery hanging
        }
    }

    Message deadLetterMessage(Delivery d, String dlq, String reason, Throwable cause) {
        return deadLetterMessage(d, dlq, reason, cause, Map.of());
    }

    /**
     * The dead letter of {@code d}: the message with this failure's headers. Every {@code courier-dlq-*}
     * header the message already carried (it was republished from a dead-letter topic, say) is
     * dropped first, so none of them describes an earlier failure: a dead letter without a cause
     * has no exception or failure times at all. {@link HeaderNames#FIRST_FAILURE} is read (it was
     * set for this delivery's earlier attempts) but not passed on, like the attempt count.
     */
    Message deadLetterMessage(Delivery d, String dlq, String reason, Throwable cause, Map<String, String> extraHeaders) {
        Message m = d.message();
        String now = Instant.now().toString();
        Headers kept = m.headers().without(HeaderNames.ATTEMPT).without(HeaderNames.FIRST_FAILURE);
        for (String name : m.headers().asMap().keySet()) {
            if (name.startsWith(DLQ_HEADER_PREFIX)) {
                kept = kept.without(name);
            }
        }
        Message.Builder b = m.toBuilder().topic(dlq)
                .headers(kept)
                .header(HeaderNames.DLQ_REASON, truncate(reason, 1024))
                .header(HeaderNames.DLQ_ORIGINAL_TOPIC, m.topic())
                .header(HeaderNames.DLQ_ORIGINAL_GROUP, spec.group() == null ? "" : spec.group())
                .header(HeaderNames.DLQ_ATTEMPTS, Integer.toString(d.attempt()))
                .header(HeaderNames.DLQ_TIME, now);
        String position = d.metadata().position();
        if (!position.isEmpty()) {
            b.header(HeaderNames.DLQ_POSITION, position);
        }
        if (cause != null) {
            b.header(HeaderNames.DLQ_EXCEPTION, cause.getClass().getName());
            b.header(HeaderNames.DLQ_STACK, stackOf(cause));
            if (cause.getMessage() != null) {
                b.header(HeaderNames.DLQ_EXCEPTION_MESSAGE, truncate(cause.getMessage(), 1024));
            }
            b.header(HeaderNames.DLQ_LAST_FAILURE, now);
            // the first failure is this one on a first attempt; after that only a header set on an earlier one knows it
            // (most brokers redeliver the message unchanged), so without it the time is left out rather than made up
            String first = m.header(HeaderNames.FIRST_FAILURE);
            if (first != null) {
                b.header(HeaderNames.DLQ_FIRST_FAILURE, first);
            } else if (d.attempt() <= 1) {
                b.header(HeaderNames.DLQ_FIRST_FAILURE, now);
            }
        }
        extraHeaders.forEach(b::header);
        return b.build();
    }

    static boolean isNonRetryable(Throwable t) {
        return firstCause(t, NonRetryableException.class, CodecException.class) != null;
    }

    private static String reasonFor(Throwable cause) {
        Throwable codec = firstCause(cause, CodecException.class);
        return codec != null ? "undecodable payload: " + codec.getMessage() : "non-retryable failure: " + describe(cause);
    }

    /** Links of a cause chain looked at, at most: chains may be cyclic ({@code initCause} allows A -> B -> A). */
    private static final int MAX_CAUSES = 64;

    /** The first of {@code t} and its causes that is one of {@code types}, or null. */
    private static Throwable firstCause(Throwable t, Class<?>... types) {
        Throwable c = t;
        for (int depth = 0; c != null && depth < MAX_CAUSES; depth++) {
            for (Class<?> type : types) {
                if (type.isInstance(c)) {
                    return c;
                }
            }
            Throwable next = c.getCause();
            c = next == c ? null : next;
        }
        return null;
    }

    private static String describe(Throwable t) {
        return t.getClass().getSimpleName() + (t.getMessage() != null ? ": " + t.getMessage() : "");
    }

    static Throwable unwrap(Throwable e) {
        for (int depth = 0; depth < MAX_CAUSES && (e instanceof CompletionException || e instanceof ExecutionException)
                && e.getCause() != null; depth++) {
            e = e.getCause();
        }
        return e;
    }

    private static String stackOf(Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return truncate(sw.toString(), MAX_STACK_CHARS);
    }

    private static String truncate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...";
    }
}
