package dev.courier.internal;

import dev.courier.Codecs;
import dev.courier.Delivery;
import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.Outcome;
import dev.courier.spi.InboundDelivery;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/** The user-facing delivery: decoding plus once-only settlement through the pipeline. */
final class DeliveryImpl implements Delivery {

    private final InboundDelivery inbound;
    private final SubscriptionPipeline pipeline;
    private final Codecs codecs;
    private final String group;
    /** The first settlement, set once through {@link #SETTLEMENT}: the first settlement wins. */
    private volatile Outcome settlement;
    /**
     * The stage {@link #done()} hands out, made on first request: a binding whose own settlement
     * tells it when a record is done (Kafka) never asks, and pays nothing for it. {@link #FINISHED}
     * if the settlement was applied before anyone asked: a synchronous handler costs no stage.
     */
    private volatile CompletableFuture<Void> done;

    private static final CompletableFuture<Void> FINISHED = new SharedStage<>(null);
    private static final VarHandle SETTLEMENT;
    private static final VarHandle DONE;
    private static final VarHandle RUNNING;
    private static final VarHandle DEFERRED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            SETTLEMENT = lookup.findVarHandle(DeliveryImpl.class, "settlement", Outcome.class);
            DONE = lookup.findVarHandle(DeliveryImpl.class, "done", CompletableFuture.class);
            RUNNING = lookup.findVarHandle(DeliveryImpl.class, "running", int.class);
            DEFERRED = lookup.findVarHandle(DeliveryImpl.class, "deferred", Outcome.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    DeliveryImpl(InboundDelivery inbound, SubscriptionPipeline pipeline, Codecs codecs, String group) {
        this.inbound = inbound;
        this.pipeline = pipeline;
        this.codecs = codecs;
        this.group = group;
    }

    InboundDelivery inbound() {
        return inbound;
    }

    /** Completes once this delivery's settlement has been applied (dead letters: once their copy was published). */
    @SuppressWarnings("unchecked")
    CompletableFuture<Void> done() {
        CompletableFuture<Void> d = done;
        if (d == null) {
            CompletableFuture<Void> fresh = new CompletableFuture<>();
            d = (CompletableFuture<Void>) DONE.compareAndExchange(this, null, fresh);
            if (d == null) {
                return fresh;
            }
        }
        return d;
    }

    /** The settlement has been applied: completes {@link #done()}, whether or not it was asked for yet. */
    @SuppressWarnings("unchecked")
    void finished() {
        CompletableFuture<Void> d = done;
        if (d == null) {
            d = (CompletableFuture<Void>) DONE.compareAndExchange(this, null, FINISHED);
            if (d == null) {
                return;
            }
        }
        if (d != FINISHED) {
            d.complete(null);
        }
    }

    @Override
    public Message message() {
        return inbound.message();
    }

    @Override
    public <T> T payload(Class<T> type) {
        return codecs.decode(inbound.message(), type);
    }

    @Override
    public Object payload() {
        return codecs.decode(inbound.message());
    }

    @Override
    public int attempt() {
        return inbound.attempt();
    }

    @Override
    public DeliveryMetadata metadata() {
        return inbound.metadata();
    }

    @Override
    public String group() {
        return group;
    }

    @Override
    public void ack() {
        settle(Outcome.ack());
    }

    @Override
    public void nack(Duration delay) {
        if (delay != null && delay.isNegative()) {
            throw new IllegalArgumentException("nack delay must be zero or positive, was " + delay);
        }
        settle(Outcome.nack(delay));
    }

    @Override
    public void deadLetter(String reason) {
        settle(Outcome.deadLetter(reason == null ? "dead-lettered by the handler" : reason, null));
    }

    @Override
    public boolean isSettled() {
        return settlement != null;
    }

    /** The first settlement, or {@code null} while unsettled. */
    Outcome settlement() {
        return settlement;
    }

    @Override
    public <T> T unwrap(Class<T> type) {
        if (type.isInstance(inbound)) {
            return type.cast(inbound);
        }
        T t = inbound.unwrap(type);
        if (t == null) {
            throw new IllegalArgumentException("this delivery has no native " + type.getName() + " (binding delivery is "
                    + inbound.getClass().getName() + ")");
        }
        return t;
    }

    /**
     * First settlement wins; returns false when already settled. A settlement made while the
     * handler still runs this delivery (a synchronous handler that acks, nacks or dead-letters and
     * then goes on working) takes effect when the handler returns: until then the delivery keeps its
     * key and its permit, so the next message of the key (or the redelivery it asked for) never runs
     * beside it, and a closing subscription waits for it.
     */
    boolean settle(Outcome outcome) {
        if (settlement != null || !SETTLEMENT.compareAndSet(this, null, outcome)) {
            return false;
        }
        if (running > 0) {
            pipeline.deferred(this); // before the outcome is visible: whoever takes it back removes the entry after
            deferred = outcome;
            // the handler may have returned meanwhile without seeing it: whoever takes it back applies it
            if (running > 0 || !DEFERRED.compareAndSet(this, outcome, null)) {
                return true;
            }
            pipeline.undeferred(this);
        }
        pipeline.apply(this, outcome);
        return true;
    }

    /**
     * Applies a settlement still waiting for the handler to return, now: a subscription closing
     * without waiting for its handlers would otherwise drop it (and have the message redelivered).
     */
    void applyDeferredNow() {
        Outcome late = deferred;
        if (late != null && DEFERRED.compareAndSet(this, late, null)) {
            pipeline.undeferred(this);
            pipeline.apply(this, late);
        }
    }

    /** Handler runs of this delivery in progress (see {@link #settle}). */
    private volatile int running;
    /** A settlement made while the handler ran, applied by whoever takes it back first: the returning handler or the settler. */
    private volatile Outcome deferred;

    /** Runs the chain's last link (the handler) for {@code d}, which is this delivery or one an interceptor made of it. */
    CompletionStage<Outcome> runHandler(Function<Delivery, CompletionStage<Outcome>> terminal, Delivery d) {
        RUNNING.getAndAdd(this, 1);
        try {
            return terminal.apply(d);
        } finally {
            if ((int) RUNNING.getAndAdd(this, -1) == 1) {
                applyDeferredNow();
            }
        }
    }

    @Override
    public String toString() {
        return "Delivery{" + inbound.message() + ", attempt=" + inbound.attempt() + ", " + inbound.metadata().position() + '}';
    }
}
