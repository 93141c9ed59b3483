package dev.courier.internal;

import dev.courier.Codecs;
import dev.courier.Delivery;
import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.Outcome;
import dev.courier.spi.InboundDelivery;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/** The user-facing delivery: decoding plus once-only settlement through the pipeline. */
final class DeliveryImpl implements Delivery {

    private final InboundDelivery inbound;
    private final SubscriptionPipeline pipeline;
    private final Codecs codecs;
    private final String group;
    private final AtomicBoolean settled = new AtomicBoolean();
    final CompletableFuture<Void> done = new CompletableFuture<>();

    DeliveryImpl(InboundDelivery inbound, SubscriptionPipeline pipeline, Codecs codecs, String group) {
        this.inbound = inbound;
        this.pipeline = pipeline;
        this.codecs = codecs;
        this.group = group;
    }

    InboundDelivery inbound() {
        return inbound;
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
        return settled.get();
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

    /** First settlement wins; returns false when already settled. */
    boolean settle(Outcome outcome) {
        if (!settled.compareAndSet(false, true)) {
            return false;
        }
        pipeline.apply(this, outcome);
        return true;
    }

    @Override
    public String toString() {
        return "Delivery{" + inbound.message() + ", attempt=" + inbound.attempt() + ", " + inbound.metadata().position() + '}';
    }
}
