package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.recovery.AutorecoveringChannel;
import dev.courier.PublishException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * A channel in publisher-confirm mode with a sliding window of outstanding publishes, keyed by
 * publish sequence number. A {@code multiple} ack or nack settles the whole prefix up to its
 * sequence number. Futures are completed on {@code completions}, never on the connection's I/O
 * thread where the confirm and return callbacks run, so whatever a caller chains onto a publish
 * (an ack, another publish) cannot stall the connection.
 *
 * <p>The sequence number is read and the message written under one lock, on the underlying
 * channel of the moment: after a connection recovery the channel's numbering restarts, so each
 * underlying channel has its own window and publishes outstanding on a lost one fail with a
 * retriable {@link PublishException}. From the loss of the connection until the client has put
 * the recovered channel back in confirm mode, publishes fail the same way: the client swaps the
 * new channel in before it re-enables confirms, and a publish in that gap is not counted by the
 * broker, which would shift every later confirm onto the wrong message. Thread-safe.
 */
final class ConfirmChannel {

    private static final Logger log = LoggerFactory.getLogger(ConfirmChannel.class);

    /** One publish waiting for its confirm. */
    static final class Pending {
        final String topic;
        final String exchange;
        final String routingKey;
        final String messageId;
        final boolean mandatory;
        final CompletableFuture<Void> confirmed = new CompletableFuture<>();
        volatile UnroutableMessageException returned;

        Pending(String topic, String exchange, String routingKey, String messageId, boolean mandatory) {
            this.topic = topic;
            this.exchange = exchange;
            this.routingKey = routingKey;
            this.messageId = messageId;
            this.mandatory = mandatory;
        }
    }

    /** Outstanding publishes of one underlying channel. */
    private static final class Window {
        final Channel delegate;
        final ConcurrentSkipListMap<Long, Pending> outstanding = new ConcurrentSkipListMap<>();
        volatile boolean lost;

        Window(Channel delegate) {
            this.delegate = delegate;
        }
    }

    private final Connection connection;
    private final Channel channel;
    private final Executor completions;
    private final Object lock = new Object();
    private volatile Window window;
    /** Closed for good: by the application, or by a channel-level error the client does not recover from. */
    private volatile boolean dead;
    /** The connection was lost and the client has not yet re-enabled confirms on the recovered channel. */
    private volatile boolean recovering;
    private final Consumer<String> missingExchange;

    ConfirmChannel(Connection connection, Executor completions) throws IOException {
        this(connection, completions, exchange -> { });
    }

    /**
     * {@code missingExchange} hears of an exchange the broker closed this channel for (404: a
     * publish to an exchange that no longer exists). Runs on the connection's I/O thread.
     */
    ConfirmChannel(Connection connection, Executor completions, Consumer<String> missingExchange) throws IOException {
        this.missingExchange = missingExchange;
        this.channel = connection.createChannel();
        if (channel == null) {
            throw new IOException("the broker has no channel left (channel_max reached)");
        }
        this.connection = connection;
        this.completions = completions;
        // before the shutdown listener: added to a channel that is already closed, it runs at once
        this.window = new Window(delegate());
        try {
            channel.confirmSelect();
            channel.addConfirmListener(this::acked, this::nacked);
            channel.addReturnListener(r -> returned(r.getReplyCode(), r.getReplyText(), r.getExchange(), r.getRoutingKey(), r.getProperties()));
            if (channel instanceof Recoverable r) {
                r.addRecoveryListener(new RecoveryListener() {
                    @Override
                    public void handleRecovery(Recoverable recovered) {
                        recovering = false; // called once confirm.select-ok came back on the new channel
                    }

                    @Override
                    public void handleRecoveryStarted(Recoverable recovered) {
                    }
                });
            }
            channel.addShutdownListener(this::lost);
        } catch (IOException | RuntimeException e) {
            // the connection dropped while the channel was being set up: do not leave it to be recovered for nobody
            try {
                channel.abort();
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The channel, for consumers that must share it (direct reply-to). */
    Channel channel() {
        return channel;
    }

    /**
     * False once this channel will never publish again; the pool replaces it. That includes a
     * channel the client failed to recover although the connection is back (connection recovery
     * ends only after every channel's recovery was attempted).
     */
    boolean usable() {
        return !dead && !(recovering && connection.isOpen());
    }

    private Channel delegate() {
        return channel instanceof AutorecoveringChannel r ? r.getDelegate() : channel;
    }

    /**
     * Publishes and returns the stage of its confirm. Never waits for the confirm; it may block
     * briefly on the socket write (TCP back-pressure), as any amqp-client publish does.
     */
    CompletableFuture<Void> publish(Pending p, AMQP.BasicProperties props, byte[] body) {
        synchronized (lock) {
            Channel d = delegate();
            Window w = window;
            if (w.delegate != d) {
                // the connection was recovered: the old channel's confirms will never come
                Window old = w;
                w = new Window(d);
                window = w;
                failAll(old, "the connection was lost before the broker confirmed it");
            }
            if (recovering || !d.isOpen()) {
                fail(p, new PublishException(p.topic, "the channel is closed (connection lost or recovering); publish again", null, true));
                return p.confirmed;
            }
            long seq = d.getNextPublishSeqNo();
            w.outstanding.put(seq, p);
            try {
                d.basicPublish(p.exchange, p.routingKey, p.mandatory, props, body);
            } catch (IOException | AlreadyClosedException e) {
                w.outstanding.remove(seq);
                fail(p, new PublishException(p.topic, "the channel closed while publishing (" + describe(e) + "); publish again", e, true));
                return p.confirmed;
            }
            if (w.lost && w.outstanding.remove(seq) != null) {
                fail(p, new PublishException(p.topic, "the connection was lost before the broker confirmed it; publish again", null, true));
            }
        }
        return p.confirmed;
    }

    /** Publishes waiting for their confirm. */
    int outstanding() {
        return window.outstanding.size();
    }

    private void acked(long seq, boolean multiple) {
        settle(seq, multiple, true);
    }

    private void nacked(long seq, boolean multiple) {
        settle(seq, multiple, false);
    }

    private void settle(long seq, boolean multiple, boolean ack) {
        Window w = window;
        List<Pending> done;
        if (multiple) {
            ConcurrentNavigableMap<Long, Pending> prefix = w.outstanding.headMap(seq, true);
            done = new ArrayList<>(prefix.size());
            for (Map.Entry<Long, Pending> e; (e = prefix.pollFirstEntry()) != null; ) {
                done.add(e.getValue());
            }
        } else {
            Pending p = w.outstanding.remove(seq);
            done = p == null ? List.of() : List.of(p);
        }
        if (done.isEmpty()) {
            return;
        }
        complete(() -> {
            for (Pending p : done) {
                if (!ack) {
                    p.confirmed.completeExceptionally(new PublishException(p.topic, "the broker refused the message (basic.nack); publish again", null, true));
                } else if (p.returned != null) {
                    p.confirmed.completeExceptionally(p.returned);
                } else {
                    p.confirmed.complete(null);
                }
            }
        });
    }

    /** A mandatory message came back; its ack follows, and fails the publish. Runs on the I/O thread. */
    private void returned(int replyCode, String replyText, String exchange, String routingKey, AMQP.BasicProperties props) {
        String id = props == null ? null : props.getMessageId();
        for (Pending p : window.outstanding.values()) {
            if (p.mandatory && p.returned == null && p.exchange.equals(exchange) && p.routingKey.equals(routingKey)
                    && (id == null || id.equals(p.messageId))) {
                p.returned = new UnroutableMessageException(p.topic, routingKey, replyCode, replyText);
                return;
            }
        }
    }

    /** The channel (or its connection) closed: fail what it will never confirm. Runs on the I/O thread. */
    private void lost(ShutdownSignalException cause) {
        Window w = window;
        w.lost = true;
        // a connection-level loss is recovered by the client; a channel-level error or our own close is final
        if (!(channel instanceof AutorecoveringChannel) || !cause.isHardError() || cause.isInitiatedByApplication()) {
            dead = true;
        } else {
            recovering = true;
        }
        String exchange = Topology.missingExchange(cause);
        if (exchange != null) {
            missingExchange.accept(exchange); // first: a publish retried on the failure below must find the exchange forgotten
        }
        failAll(w, "the channel closed before the broker confirmed it (" + describe(cause) + ")");
    }

    private void failAll(Window w, String why) {
        List<Pending> failed = new ArrayList<>();
        for (Map.Entry<Long, Pending> e; (e = w.outstanding.pollFirstEntry()) != null; ) {
            failed.add(e.getValue());
        }
        if (failed.isEmpty()) {
            return;
        }
        log.debug("{} publish(es) failed: {}", failed.size(), why);
        complete(() -> {
            for (Pending p : failed) {
                p.confirmed.completeExceptionally(new PublishException(p.topic, why + "; publish again", null, true));
            }
        });
    }

    private void fail(Pending p, Throwable e) {
        complete(() -> p.confirmed.completeExceptionally(e));
    }

    private void complete(Runnable r) {
        try {
            completions.execute(r);
        } catch (RejectedExecutionException e) {
            r.run(); // Courier is closing; nothing user-provided is left to run
        }
    }

    /** Closes the channel; what is still outstanding fails. */
    void close() {
        dead = true;
        try {
            if (channel.isOpen()) {
                channel.close();
            } else {
                channel.abort(); // a lost channel: the client stops recovering it
            }
        } catch (IOException | java.util.concurrent.TimeoutException | ShutdownSignalException e) {
            log.debug("closing a publisher channel: {}", e.toString());
        }
        failAll(window, "the binding closed before the broker confirmed it");
    }

    static String describe(Throwable e) {
        if (e instanceof ShutdownSignalException s && s.getReason() != null) {
            if (s.getReason() instanceof AMQP.Channel.Close c) {
                return c.getReplyCode() + " " + c.getReplyText();
            }
            if (s.getReason() instanceof AMQP.Connection.Close c) {
                return c.getReplyCode() + " " + c.getReplyText();
            }
        }
        if (e.getCause() instanceof ShutdownSignalException s) {
            return describe(s);
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
