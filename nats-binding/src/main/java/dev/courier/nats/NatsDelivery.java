package dev.courier.nats;

import dev.courier.DeliveryMetadata;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.spi.InboundDelivery;
import io.nats.client.impl.NatsJetStreamMetaData;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * One NATS message handed to the core. A JetStream delivery settles with ack, nak (with delay) or
 * term; a core NATS delivery has nothing to settle (at most once), so its nack only reports that
 * the message cannot come back. {@link #unwrap} gives jnats' {@link io.nats.client.Message}.
 */
final class NatsDelivery implements InboundDelivery {

    private final io.nats.client.Message nats;
    private final Message message;
    private final int attempt;
    private final DeliveryMetadata metadata;
    private final long streamSequence;
    private final Consumer<NatsDelivery> onSettled;
    /** Set when the subscription gave the message back (close): a later settlement must not touch the redelivered copy. */
    private volatile boolean revoked;
    /**
     * Set, under this delivery's lock, when the handler settled it, and the settlement is sent under
     * that lock too: an in-progress ack that the subscription's timer sends after a delayed nak
     * would restart the whole ack wait and bring the message back only then.
     */
    private boolean settled;

    private NatsDelivery(io.nats.client.Message nats, Message message, int attempt, DeliveryMetadata metadata, long streamSequence,
                         Consumer<NatsDelivery> onSettled) {
        this.nats = nats;
        this.message = message;
        this.attempt = attempt;
        this.metadata = metadata;
        this.streamSequence = streamSequence;
        this.onSettled = onSettled;
    }

    /** A JetStream delivery: attempt is the server's delivered count, the position its stream sequence. */
    static NatsDelivery jetStream(io.nats.client.Message nats, String topic, Consumer<NatsDelivery> onSettled) {
        NatsJetStreamMetaData meta = nats.metaData();
        long seq = meta.streamSequence();
        Message m = NatsMessages.fromNats(nats, topic, meta.getStream() + "-" + seq);
        int delivered = (int) Math.min(Integer.MAX_VALUE, Math.max(1, meta.deliveredCount()));
        return new NatsDelivery(nats, m, delivered, DeliveryMetadata.sequence(seq, delivered > 1), seq, onSettled);
    }

    /** A core NATS delivery; a request carries its reply subject in {@link HeaderNames#REPLY_TO}. */
    static NatsDelivery core(io.nats.client.Message nats, String topic, String fallbackId, Consumer<NatsDelivery> onSettled) {
        Message m = NatsMessages.fromNats(nats, topic, fallbackId);
        if (nats.getReplyTo() != null) {
            m = m.toBuilder().header(HeaderNames.REPLY_TO, nats.getReplyTo()).build();
        }
        return new NatsDelivery(nats, m, 1, DeliveryMetadata.none(), -1, onSettled);
    }

    void revoke() {
        revoked = true;
    }

    boolean isRevoked() {
        return revoked;
    }

    boolean isJetStream() {
        return streamSequence >= 0;
    }

    long streamSequence() {
        return streamSequence;
    }

    io.nats.client.Message nats() {
        return nats;
    }

    @Override
    public Message message() {
        return message;
    }

    @Override
    public int attempt() {
        return attempt;
    }

    @Override
    public DeliveryMetadata metadata() {
        return metadata;
    }

    @Override
    public <T> T unwrap(Class<T> type) {
        return type.isInstance(nats) ? type.cast(nats) : null;
    }

    @Override
    public void ack() {
        // the subscription lets go of it first: see nack
        onSettled.accept(this);
        synchronized (this) {
            settled = true;
            if (isJetStream() && !revoked) {
                nats.ack();
            }
        }
    }

    @Override
    public void nack(Duration delay) {
        // The subscription lets go of it before the server hears of it: a nak without delay can bring
        // the message straight back to this subscription, and a redelivery that still found this
        // delivery held would be taken for a duplicate and left to the ack wait.
        onSettled.accept(this);
        synchronized (this) {
            settled = true;
            if (isJetStream() && !revoked) {
                if (delay == null || delay.isZero() || delay.isNegative()) {
                    nats.nak();
                } else {
                    nats.nakWithDelay(delay);
                }
            }
        }
        if (!isJetStream()) {
            NatsBinding.log.warn("core NATS cannot redeliver message {} on '{}' (at-most-once); it is dropped. "
                    + "Use a JetStream topic for redelivery", message.id(), message.topic());
        }
    }

    @Override
    public void reject() {
        onSettled.accept(this);
        synchronized (this) {
            settled = true;
            if (isJetStream() && !revoked) {
                nats.term();
            }
        }
    }

    /** Tells the server the handler is still working, which restarts the ack wait; nothing once settled. */
    void inProgress() {
        synchronized (this) {
            if (isJetStream() && !revoked && !settled) {
                nats.inProgress();
            }
        }
    }

    @Override
    public String toString() {
        return "NatsDelivery{" + message.id() + (isJetStream() ? " seq=" + streamSequence : "") + " attempt=" + attempt + '}';
    }
}
