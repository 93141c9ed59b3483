package dev.courier.nats;

import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamSubscription;
import io.nats.client.MessageHandler;
import io.nats.client.PullSubscribeOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Pulls one JetStream consumer for a subscription: pull requests of up to {@code batch} messages,
 * each open at the server for at most its expiry ({@code courier.nats.consumer.pull-expiry}), asked
 * for again when less than half a batch is still to come (and at least once an expiry), so an idle
 * subscription asks about once an expiry and a busy one keeps a batch on its way.
 *
 * <p>Its own requests rather than jnats' {@code MessageConsumer}: after that one's {@code stop()},
 * jnats drops the messages its open requests still bring, and the server, which counts them as
 * delivered, sends them again only after the ack wait (behind later messages of their key). Here
 * {@link #stop()} only ends the asking: what the open requests bring still reaches the handler,
 * and {@link #openUntil()} tells when the last of them has ended at the server, after which
 * nothing more can arrive. Thread-safe.
 */
final class PullLoop {

    private static final Logger log = LoggerFactory.getLogger(PullLoop.class);
    private final Connection connection;
    private final int batch;
    /** How long a pull request stays open at the server. */
    private final Duration expiry;
    private final long expiryNanos;
    private final String topic;
    private final Object lock = new Object();
    /** Requests possibly still open, oldest first: {sent (nanoTime), messages still to come}. Guarded by {@code lock}. */
    private final ArrayDeque<long[]> open = new ArrayDeque<>();
    /** Messages the open requests may still bring. Guarded by {@code lock}. */
    private int credit;
    private boolean stopped;
    private volatile JetStreamSubscription sub;
    private ScheduledFuture<?> timer;

    private PullLoop(Connection connection, int batch, Duration expiry, String topic) {
        this.connection = connection;
        this.batch = batch;
        this.expiry = expiry;
        this.expiryNanos = expiry.toNanos();
        this.topic = topic;
    }

    /**
     * Binds to {@code consumer} of {@code stream} on {@code dispatcher} and starts pulling; each
     * message goes to {@code handler} on the dispatcher's thread.
     */
    static PullLoop start(JetStream js, Connection connection, String stream, String consumer, Dispatcher dispatcher, int batch,
            Duration expiry, String topic, MessageHandler handler, ScheduledExecutorService scheduler)
            throws IOException, JetStreamApiException {
        PullLoop loop = new PullLoop(connection, batch, expiry, topic);
        loop.sub = js.subscribe(null, dispatcher, m -> {
            try {
                handler.onMessage(m);
            } finally {
                loop.received();
            }
        }, PullSubscribeOptions.bind(stream, consumer));
        long every = loop.expiryNanos / 2;
        loop.timer = scheduler.scheduleWithFixedDelay(loop::topUp, every, every, TimeUnit.NANOSECONDS);
        loop.topUp();
        return loop;
    }

    private void received() {
        synchronized (lock) {
            long[] oldest = open.peekFirst();
            if (oldest != null && --oldest[1] <= 0) {
                open.pollFirst(); // the server fills its requests in the order they came
            }
            if (credit > 0) {
                credit--;
            }
            if (stopped || credit > batch / 2) {
                return;
            }
        }
        topUp();
    }

    /** Forgets requests that have ended at the server and asks for more when less than half a batch is to come. */
    private void topUp() {
        int ask;
        synchronized (lock) {
            long now = System.nanoTime();
            for (long[] r = open.peekFirst(); r != null && now - r[0] > expiryNanos; r = open.peekFirst()) {
                open.pollFirst();
                credit -= (int) r[1];
            }
            if (credit < 0) {
                credit = 0;
            }
            // not while the connection is down: jnats would hold the request and send it on the reconnect, its expiry
            // starting only then (the timer asks again once connected)
            if (stopped || credit > batch / 2 || connection.getStatus() != Connection.Status.CONNECTED) {
                return;
            }
            ask = batch - credit;
            open.addLast(new long[] {now, ask});
            credit += ask;
        }
        // a request goes out after its record: an answer cannot arrive before it is counted
        try {
            sub.pullExpiresIn(ask, expiry);
        } catch (RuntimeException e) {
            log.debug("pull request on '{}' failed: {}", topic, e.toString());
        }
    }

    /** Sends no more pull requests; what the open ones bring still reaches the handler. */
    void stop() {
        synchronized (lock) {
            stopped = true;
        }
        if (timer != null) {
            timer.cancel(false);
        }
    }

    /**
     * The {@link System#nanoTime()} by which every request that may still bring a message has ended
     * at the server (its expiry, and {@code margin} for its way there); now or earlier when none
     * may. Meaningful after {@link #stop()}.
     */
    long openUntil(Duration margin) {
        synchronized (lock) {
            long until = System.nanoTime();
            for (long[] r : open) {
                if (r[1] > 0) {
                    until = Math.max(until, r[0] + expiryNanos + margin.toNanos());
                }
            }
            return until;
        }
    }

    /** Stops pulling and unsubscribes; what is still on its way is not received. */
    void close() {
        stop();
        JetStreamSubscription s = sub;
        try {
            if (s != null && s.isActive()) {
                s.getDispatcher().unsubscribe(s);
            }
        } catch (RuntimeException e) {
            log.debug("unsubscribing the pull of '{}' failed: {}", topic, e.toString());
        }
    }
}
