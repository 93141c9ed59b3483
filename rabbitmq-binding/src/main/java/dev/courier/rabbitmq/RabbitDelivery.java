package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Envelope;
import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.spi.InboundDelivery;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One AMQP delivery. It is settled at most once, on the channel that delivered it: if that channel
 * was lost (and recovered) meanwhile, the settlement is dropped, since the broker already gave the
 * message back to the queue. {@link #unwrap(Class)} gives the {@link Envelope} and
 * {@link AMQP.BasicProperties}.
 */
final class RabbitDelivery implements InboundDelivery {

    final RabbitSubscription subscription;
    /** The underlying channel that delivered this message; its delivery tags mean nothing to any other. */
    final Channel deliveredOn;
    final Envelope envelope;
    final AMQP.BasicProperties properties;
    final byte[] body;
    private final Message message;
    private final int attempt;
    private final AtomicBoolean settled = new AtomicBoolean();

    RabbitDelivery(RabbitSubscription subscription, Channel deliveredOn, Envelope envelope, AMQP.BasicProperties properties,
                   byte[] body, Message message) {
        this.subscription = subscription;
        this.deliveredOn = deliveredOn;
        this.envelope = envelope;
        this.properties = properties;
        this.body = body;
        this.message = message;
        this.attempt = MessageMapping.attempt(properties);
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
        return DeliveryMetadata.deliveryTag(envelope.getDeliveryTag(), envelope.isRedeliver());
    }

    @Override
    public <T> T unwrap(Class<T> type) {
        if (type.isInstance(envelope)) {
            return type.cast(envelope);
        }
        if (type.isInstance(properties)) {
            return type.cast(properties);
        }
        return null;
    }

    @Override
    public void ack() {
        if (settled.compareAndSet(false, true)) {
            subscription.ack(this);
        }
    }

    @Override
    public void nack(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (settled.compareAndSet(false, true)) {
            subscription.redeliver(this, delay);
        }
    }

    @Override
    public void reject() {
        ack();
    }

    /** Gives the message back to the queue untouched (it never started); false if it was settled already. */
    boolean requeue() {
        if (settled.compareAndSet(false, true)) {
            subscription.requeue(this);
            return true;
        }
        return false;
    }

    @Override
    public String toString() {
        return "RabbitDelivery{" + message.id() + " tag=" + envelope.getDeliveryTag() + " attempt=" + attempt + '}';
    }
}
