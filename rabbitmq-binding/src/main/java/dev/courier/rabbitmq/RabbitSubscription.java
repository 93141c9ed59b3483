package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.impl.recovery.AutorecoveringChannel;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.OrderedDispatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One consumer on its own channel, with manual acks and a prefetch of the subscription's max in
 * flight. Deliveries go through an {@link OrderedDispatcher} on the handler executor (per-key order,
 * bounded concurrency); each is acked as soon as it is settled, on the channel that delivered it.
 * A nack with delay publishes a copy with the next attempt number to a delay queue and acks the
 * original once the broker confirmed the copy. Thread-safe.
 */
final class RabbitSubscription implements BindingSubscription {

    private static final Logger log = LoggerFactory.getLogger(RabbitSubscription.class);

    private final RabbitBinding binding;
    private final Subscribe spec;
    final String queue;
    private final boolean durableQueue;
    private final int prefetch;
    private final OrderedDispatcher<RabbitDelivery> dispatcher;
    private final Object lock = new Object();
    private final ArrayDeque<RabbitDelivery> held = new ArrayDeque<>();
    private final Set<CompletableFuture<?>> redeliveries = ConcurrentHashMap.newKeySet();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final Declaration declaration;
    private volatile Channel channel;
    private volatile String consumerTag;
    /** Set once a delay queue was refused by the broker; nacks with a delay then wait in process. */
    private volatile boolean delayQueueRefused;
    private boolean paused;
    private boolean closing;

    /** Declares (or checks) the subscription's exchange, queue and bindings through the given topology. */
    interface Declaration {
        void declare(Topology topology);
    }

    RabbitSubscription(RabbitBinding binding, Subscribe spec, DeliveryProcessor processor, String queue, boolean durableQueue, int prefetch,
                       Declaration declaration) {
        this.binding = binding;
        this.declaration = declaration;
        this.spec = spec;
        this.queue = queue;
        this.durableQueue = durableQueue;
        this.prefetch = prefetch;
        this.dispatcher = new OrderedDispatcher<>(binding.handlerExecutor(), spec.concurrency(), spec.ordering(), d -> process(processor, d));
    }

    /** The stage of a delivery of a lost channel, dropped unhandled. */
    private static final CompletionStage<Void> DROPPED = CompletableFuture.completedFuture(null);

    /**
     * Hands a delivery to the handler chain, unless the channel it came on is gone: a delivery that
     * waited (held by a pause, or queued behind its key or the concurrency) while the connection was
     * lost has been put back in the queue by the broker, which delivers it again; handling this copy
     * too would handle the message twice.
     */
    private CompletionStage<Void> process(DeliveryProcessor processor, RabbitDelivery d) {
        if (!d.deliveredOn.isOpen()) {
            log.debug("{} not handled: its channel is gone (the broker redelivers it)", d);
            return DROPPED;
        }
        return processor.process(d);
    }

    String topic() {
        return spec.topic();
    }

    /** Registers the consumer on {@code ch}; returns once the broker sent consume-ok. */
    void start(Channel ch) throws IOException {
        String tag;
        try {
            ch.basicQos(prefetch);
            tag = ch.basicConsume(queue, false, "courier." + UUID.randomUUID(), new Consumer(ch));
        } catch (IOException | RuntimeException e) {
            closeChannel(ch);
            throw e;
        }
        synchronized (lock) {
            if (closing) {
                closeChannel(ch); // closed while consuming again: this channel is nobody's
                return;
            }
            this.channel = ch;
            consumerTag = tag;
        }
        // a channel the broker closes (consumer_timeout, a refused ack) is not recovered by the client: consume again on a new one
        ch.addShutdownListener(cause -> {
            if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
                consumeAgainLater(ch, "the broker closed its channel (" + ConfirmChannel.describe(cause) + ")", 0);
            }
        });
    }

    /**
     * Consumes again on a new channel after {@code old} stopped delivering, declaring the queue and
     * its bindings again first (a broadcast queue goes with its consumer; a deleted group queue is
     * declared again with provisioning on). Deliveries of the old channel are requeued by the broker
     * and redelivered; their late acks are dropped. Retried with a growing pause until it works or
     * the subscription closes.
     */
    private void consumeAgainLater(Channel old, String why, int failures) {
        synchronized (lock) {
            if (closing || old != channel || binding.isClosed()) {
                return;
            }
        }
        long pauseMs = failures == 0 ? 100 : Math.min(30_000, 1_000L << Math.min(failures - 1, 5));
        if (failures == 0) {
            log.warn("the consumer of queue '{}' (topic '{}') stopped: {}; consuming again on a new channel", queue, spec.topic(), why);
        }
        try {
            binding.scheduler().schedule(() -> consumeAgain(old, why, failures), pauseMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            log.debug("not consuming '{}' again: Courier is closing", queue);
        }
    }

    private void consumeAgain(Channel old, String why, int failures) {
        synchronized (lock) {
            if (closing || old != channel || binding.isClosed()) {
                return;
            }
        }
        closeChannel(old); // a closed channel is aborted so the client stops recovering it; an open one (cancelled consumer) closed
        Channel ch = null;
        try {
            ch = binding.connection().createChannel();
            if (ch == null) {
                throw new IOException("the broker has no channel left (channel_max reached)");
            }
            binding.topology().forget(spec.topic());
            binding.topology().forget(queue);
            declaration.declare(binding.topology().on(ch));
            start(ch);
            log.info("consuming queue '{}' (topic '{}') again", queue, spec.topic());
        } catch (IOException | RuntimeException e) {
            closeChannel(ch);
            log.error("cannot consume queue '{}' (topic '{}') again: {}; trying again", queue, spec.topic(), ConfirmChannel.describe(e));
            synchronized (lock) {
                if (closing) {
                    return;
                }
                channel = ch != null ? ch : old; // keep the identity check of the next try meaningful
            }
            consumeAgainLater(channel, why, failures + 1);
        }
    }

    /** The topic's exchange was deleted while in use: declares the queue and its bindings again (on the shared topology channel). */
    void declareAgain() {
        try {
            binding.scheduler().execute(() -> {
                try {
                    binding.topology().forget(queue);
                    declaration.declare(binding.topology());
                    log.info("declared queue '{}' and its bindings to '{}' again", queue, spec.topic());
                } catch (RuntimeException e) {
                    log.error("cannot declare queue '{}' and its bindings to '{}' again: {}", queue, spec.topic(), e.getMessage());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            log.debug("not declaring '{}' again: Courier is closing", queue);
        }
    }

    private final class Consumer extends DefaultConsumer {
        Consumer(Channel ch) {
            super(ch);
        }

        @Override
        public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
            Channel ch = getChannel();
            Channel deliveredOn = ch instanceof AutorecoveringChannel r ? r.getDelegate() : ch;
            Message message;
            try {
                message = MessageMapping.toMessage(spec.topic(), envelope, properties, body);
            } catch (RuntimeException e) {
                log.error("cannot read a message from queue '{}' (tag {}); rejecting it: {}", queue, envelope.getDeliveryTag(), e.toString());
                try {
                    deliveredOn.basicReject(envelope.getDeliveryTag(), false);
                } catch (IOException | AlreadyClosedException ex) {
                    log.debug("rejecting failed: {}", ex.toString());
                }
                return;
            }
            RabbitDelivery d = new RabbitDelivery(RabbitSubscription.this, deliveredOn, envelope, properties, body, message);
            synchronized (lock) {
                if (paused && !closing) {
                    held.add(d);
                    return;
                }
                if (dispatcher.dispatch(message.key(), d)) {
                    return;
                }
            }
            d.requeue(); // closing: give it back
        }

        @Override
        public void handleCancel(String tag) {
            // the queue was deleted (or a quorum queue's leader moved): consume again once it is there again
            consumeAgainLater(getChannel(), "the broker cancelled it (queue deleted?)", 0);
        }
    }

    void ack(RabbitDelivery d) {
        try {
            d.deliveredOn.basicAck(d.envelope.getDeliveryTag(), false);
        } catch (IOException | AlreadyClosedException e) {
            log.debug("ack of {} dropped, its channel is gone (the broker redelivers it): {}", d, e.toString());
        }
    }

    void requeue(RabbitDelivery d) {
        try {
            d.deliveredOn.basicNack(d.envelope.getDeliveryTag(), false, true);
        } catch (IOException | AlreadyClosedException e) {
            log.debug("requeue of {} dropped, its channel is gone (the broker redelivers it): {}", d, e.toString());
        }
    }

    /**
     * Publishes a copy with the next attempt number to the delay queue of {@code delay} (or straight
     * back to the queue for no delay), then acks the original once the copy is confirmed. If the
     * copy cannot be published, the original goes back to the queue as it is.
     */
    void redeliver(RabbitDelivery d, Duration delay) {
        if (!d.deliveredOn.isOpen()) {
            // its channel is gone: the broker has put the original back in the queue already, a copy would duplicate it
            log.debug("nack of {} dropped, its channel is gone (the broker redelivers it)", d);
            return;
        }
        CompletableFuture<Void> copy;
        boolean delayed = !(delay.isZero() || delay.isNegative());
        try {
            String target = queue;
            if (delayed && !delayQueueRefused) {
                try {
                    target = binding.delayQueue(queue, delay, durableQueue);
                } catch (Topology.BrokerRefusal | dev.courier.ConfigurationException e) {
                    delayQueueRefused = true;
                    log.error("the broker refused the delay queue of '{}' ({}); nacks with a delay wait in this process from now on",
                            queue, e.getMessage());
                }
            }
            if (delayed && delayQueueRefused) {
                copy = waitInProcess(d, delay);
            } else {
                copy = binding.publishToQueue(spec.topic(), target, MessageMapping.withAttempt(d.properties, d.message(), d.attempt() + 1, delayed),
                        d.body);
            }
        } catch (RuntimeException e) {
            copy = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Void> tracked = copy.handle((v, e) -> {
            if (e == null) {
                ack(d);
            } else {
                log.warn("could not hold {} from '{}' for redelivery ({}); returning it to the queue now", d, queue, e.toString());
                requeue(d);
            }
            return null;
        });
        redeliveries.add(tracked);
        tracked.whenComplete((v, e) -> redeliveries.remove(tracked));
    }

    /**
     * Without a delay queue: keeps the delivery unacknowledged for {@code delay}, then publishes the
     * copy with the next attempt number straight to the queue (so attempts still count towards the
     * dead letter). A lost channel meanwhile gives the original back to the queue, as it was.
     */
    private CompletableFuture<Void> waitInProcess(RabbitDelivery d, Duration delay) {
        CompletableFuture<Void> copy = new CompletableFuture<>();
        binding.scheduler().schedule(() -> {
            if (!d.deliveredOn.isOpen()) {
                copy.completeExceptionally(new IOException("its channel is gone (the broker redelivers it)"));
                return;
            }
            binding.publishToQueue(spec.topic(), queue, MessageMapping.withAttempt(d.properties, d.message(), d.attempt() + 1, false), d.body)
                    .whenComplete((v, e) -> {
                        if (e == null) {
                            copy.complete(null);
                        } else {
                            copy.completeExceptionally(e);
                        }
                    });
        }, delay.toNanos(), TimeUnit.NANOSECONDS);
        return copy;
    }

    @Override
    public void pause() {
        synchronized (lock) {
            paused = true;
        }
    }

    @Override
    public void resume() {
        synchronized (lock) {
            if (!paused) {
                return;
            }
            paused = false;
            RabbitDelivery d;
            while ((d = held.poll()) != null) {
                if (!dispatcher.dispatch(d.message().key(), d)) {
                    d.requeue();
                }
            }
        }
    }

    boolean isPaused() {
        synchronized (lock) {
            return paused;
        }
    }

    @Override
    public CompletionStage<Void> close(Duration drainTimeout) {
        List<RabbitDelivery> notStarted;
        synchronized (lock) {
            if (closing) {
                return closed;
            }
            closing = true;
            notStarted = new ArrayList<>(held);
            held.clear();
        }
        long deadline = System.nanoTime() + drainTimeout.toNanos();
        try {
            String tag = consumerTag;
            Channel ch = channel;
            if (tag != null && ch.isOpen()) {
                ch.basicCancel(tag);
            }
        } catch (IOException | AlreadyClosedException e) {
            log.debug("cancelling the consumer of '{}': {}", queue, e.toString());
        }
        notStarted.addAll(dispatcher.close());
        for (RabbitDelivery d : notStarted) {
            d.requeue();
        }
        dispatcher.whenIdle().toCompletableFuture()
                .completeOnTimeout(null, drainTimeout.toNanos(), TimeUnit.NANOSECONDS)
                .thenCompose(v -> {
                    // copies being published for redelivery: wait for them so their originals get acked
                    long left = Math.max(0, deadline - System.nanoTime());
                    return CompletableFuture.allOf(redeliveries.toArray(CompletableFuture[]::new))
                            .completeOnTimeout(null, left, TimeUnit.NANOSECONDS);
                })
                .whenComplete((v, e) -> {
                    if (dispatcher.running() > 0) {
                        log.warn("{} handler(s) on '{}' did not finish within the drain timeout; their messages will be redelivered",
                                dispatcher.running(), queue);
                    }
                    closeChannel(channel);
                    binding.closed(this);
                    closed.complete(null);
                });
        return closed;
    }

    private static void closeChannel(Channel ch) {
        if (ch == null) {
            return;
        }
        try {
            if (ch.isOpen()) {
                ch.close();
            } else {
                ch.abort(); // a lost channel: the client stops recovering it (and its consumer)
            }
        } catch (IOException | java.util.concurrent.TimeoutException | com.rabbitmq.client.ShutdownSignalException e) {
            log.debug("closing a consumer channel: {}", e.toString());
        }
    }

    @Override
    public String toString() {
        return "RabbitSubscription{queue=" + queue + ", prefetch=" + prefetch + '}';
    }
}
