package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.PublishException;
import dev.courier.RequestTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Request-reply with RabbitMQ's direct reply-to: one channel consumes the pseudo-queue
 * {@code amq.rabbitmq.reply-to} without acks and publishes the requests (the broker requires
 * both on the same channel), mandatory, so a request no queue takes comes back at once as a
 * {@link NoResponderException}. Replies are matched by correlation id; a timeout removes its
 * pending entry. Thread-safe.
 */
final class DirectReply {

    private static final Logger log = LoggerFactory.getLogger(DirectReply.class);
    static final String PSEUDO_QUEUE = "amq.rabbitmq.reply-to";

    private static final class Pending {
        final String topic;
        /** The channel whose reply address the request carries: its replies die with it. */
        final ConfirmChannel via;
        final CompletableFuture<Message> reply = new CompletableFuture<>();
        volatile ScheduledFuture<?> timer;

        Pending(String topic, ConfirmChannel via) {
            this.topic = topic;
            this.via = via;
        }
    }

    private final RabbitBinding binding;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final Object lock = new Object();
    private ConfirmChannel channel;

    DirectReply(RabbitBinding binding) {
        this.binding = binding;
    }

    private ConfirmChannel channel() throws IOException {
        synchronized (lock) {
            if (channel == null || !channel.usable()) {
                if (channel != null) {
                    channel.close();
                }
                ConfirmChannel c = new ConfirmChannel(binding.connection(), binding.completions(), binding::exchangeMissing);
                Channel ch = c.channel();
                ch.basicConsume(PSEUDO_QUEUE, true, new DefaultConsumer(ch) {
                    @Override
                    public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                        replied(envelope, props, body);
                    }
                });
                // the reply address is the channel's: when it closes, the replies of the requests sent on it can never arrive
                ch.addShutdownListener(cause -> replyAddressGone(c, cause));
                channel = c;
            }
            return channel;
        }
    }

    CompletionStage<Message> request(Message request, Duration timeout) {
        String topic = request.topic();
        String correlation = request.header(HeaderNames.CORRELATION_ID);
        if (correlation == null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("a request needs the header " + HeaderNames.CORRELATION_ID));
        }
        ConfirmChannel ch;
        try {
            // publishing to a missing exchange would close the channel; with provisioning off a missing one means nobody listens
            binding.topology().ensurePublishExchange(topic);
            ch = channel();
        } catch (dev.courier.ConfigurationException e) {
            return CompletableFuture.failedFuture(new NoResponderException(topic));
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(new PublishException(topic, "cannot send the request: " + ConfirmChannel.describe(e), e, true));
        }
        Pending p = new Pending(topic, ch);
        if (pending.putIfAbsent(correlation, p) != null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("a request with correlation id " + correlation + " is already waiting"));
        }
        p.timer = binding.scheduler().schedule(() -> fail(correlation, p, new RequestTimeoutException(topic, timeout)),
                timeout.toNanos(), TimeUnit.NANOSECONDS);
        String routingKey;
        AMQP.BasicProperties props;
        try {
            routingKey = MessageMapping.routingKey(request);
            props = MessageMapping.properties(request, false).builder().replyTo(PSEUDO_QUEUE).build();
        } catch (IllegalArgumentException e) {
            fail(correlation, p, new PublishException(topic, e.getMessage(), e, false));
            return p.reply;
        }
        ConfirmChannel.Pending publish = new ConfirmChannel.Pending(topic, topic, routingKey, request.id(), true);
        ch.publish(publish, props, request.payload()).whenComplete((v, e) -> {
            if (e != null) {
                fail(correlation, p, e instanceof UnroutableMessageException ? new NoResponderException(topic) : e);
            }
        });
        if (!ch.channel().isOpen()) {
            replyAddressGone(ch, null); // closed before the request was registered as waiting on it
        }
        return p.reply;
    }

    /** Fails at once the requests waiting for a reply on {@code c}, whose reply address is gone. */
    private void replyAddressGone(ConfirmChannel c, com.rabbitmq.client.ShutdownSignalException cause) {
        String why = cause == null ? "closed" : ConfirmChannel.describe(cause);
        for (Map.Entry<String, Pending> e : pending.entrySet()) {
            if (e.getValue().via == c) {
                fail(e.getKey(), e.getValue(), new PublishException(e.getValue().topic, "the channel the reply was to come back on closed (" + why
                        + ") before the reply arrived: the request may or may not have been handled; request again", cause, true));
            }
        }
    }

    /**
     * Fails a waiting request on the handler executor: it times out on the Courier's one scheduler
     * thread and loses its reply address on the client's, and code chained onto the failure that
     * blocks (a retry waiting for its own reply, say) would hold up every other timer, or the
     * connection, there. Inline only when the executor refuses it, as the Courier is closing.
     */
    private void fail(String correlation, Pending p, Throwable e) {
        if (pending.remove(correlation, p)) {
            ScheduledFuture<?> t = p.timer;
            if (t != null) {
                t.cancel(false);
            }
            try {
                binding.completions().execute(() -> p.reply.completeExceptionally(e));
            } catch (java.util.concurrent.RejectedExecutionException rejected) {
                p.reply.completeExceptionally(e);
            }
        }
    }

    private void replied(Envelope envelope, AMQP.BasicProperties props, byte[] body) {
        String correlation = props.getCorrelationId();
        if (correlation == null && props.getHeaders() != null && props.getHeaders().get(HeaderNames.CORRELATION_ID) != null) {
            correlation = props.getHeaders().get(HeaderNames.CORRELATION_ID).toString();
        }
        Pending p = correlation == null ? null : pending.remove(correlation);
        if (p == null) {
            log.debug("a reply with correlation id {} arrived after its request timed out; dropped", correlation);
            return;
        }
        ScheduledFuture<?> t = p.timer;
        if (t != null) {
            t.cancel(false);
        }
        Message reply;
        try {
            reply = MessageMapping.toMessage(p.topic, envelope, props, body);
        } catch (RuntimeException e) {
            binding.completions().execute(() -> p.reply.completeExceptionally(e));
            return;
        }
        // complete off the client's consumer thread: what the requester chains onto the reply runs there
        try {
            binding.completions().execute(() -> p.reply.complete(reply));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            p.reply.complete(reply);
        }
    }

    /** Pending requests (for tests and metrics). */
    int pending() {
        return pending.size();
    }

    void close() {
        synchronized (lock) {
            if (channel != null) {
                channel.close();
            }
        }
        for (Map.Entry<String, Pending> e : pending.entrySet()) {
            if (pending.remove(e.getKey(), e.getValue())) {
                ScheduledFuture<?> t = e.getValue().timer;
                if (t != null) {
                    t.cancel(false);
                }
                e.getValue().reply.completeExceptionally(new dev.courier.ClosedException("the RabbitMQ binding"));
            }
        }
    }
}
