package dev.courier.nats;

import dev.courier.Subscribe;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.OrderedDispatcher;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStreamApiException;
import io.nats.client.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One Courier subscription on NATS: a JetStream pull consumer and/or core NATS subscriptions
 * (the topic's subject for core topics, the request subject always), feeding one
 * {@link OrderedDispatcher} on the handler executor. jnats' threads only hand messages over.
 *
 * <p>JetStream deliveries are tracked by stream sequence while they are held (running, waiting
 * behind their key, or paused): they receive in-progress acks every third of the ack wait, and a
 * redelivery of a sequence still held here (the ack wait ran out anyway) is not run a second time.
 * Thread-safe.
 */
final class NatsSubscription implements BindingSubscription {

    private static final Logger log = LoggerFactory.getLogger(NatsSubscription.class);

    private final Subscribe spec;
    private final Connection connection;
    private final OrderedDispatcher<NatsDelivery> dispatcher;
    private final ScheduledExecutorService scheduler;
    private final Executor io;
    private final Map<Long, NatsDelivery> held = new ConcurrentHashMap<>();
    private final AtomicLong coreIds = new AtomicLong();
    private final Object lock = new Object();
    private final ArrayDeque<NatsDelivery> paused = new ArrayDeque<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private volatile boolean isPaused;
    private volatile boolean closing;
    private MessageConsumer consumer;
    private ConsumerStarter starter;
    private Runnable afterClose = () -> { };
    private Dispatcher coreDispatcher;
    private ScheduledFuture<?> ticker;

    NatsSubscription(Subscribe spec, Connection connection, DeliveryProcessor processor, Executor handlerExecutor,
                     ScheduledExecutorService scheduler, Executor io) {
        this.spec = spec;
        this.connection = connection;
        this.scheduler = scheduler;
        this.io = io;
        this.dispatcher = new OrderedDispatcher<>(handlerExecutor, spec.concurrency(), spec.ordering(), d -> {
            if (d.isRevoked()) {
                return CompletableFuture.completedFuture(null);
            }
            return processor.process(d);
        });
    }

    // ------------------------------------------------------------------ wiring, done by NatsBinding

    /** Subscribes core subjects on a dispatcher of their own (created on first use). */
    void subscribeCore(String subject, String queueGroup) {
        synchronized (lock) {
            if (coreDispatcher == null) {
                coreDispatcher = connection.createDispatcher(this::onCore);
            }
            if (queueGroup == null) {
                coreDispatcher.subscribe(subject);
            } else {
                coreDispatcher.subscribe(subject, queueGroup);
            }
        }
    }

    /** How to start pulling; called again after a reconnect. */
    interface ConsumerStarter {
        MessageConsumer start() throws IOException, JetStreamApiException;
    }

    void attachConsumer(ConsumerStarter starter, Runnable afterClose, Duration ackWait) throws IOException, JetStreamApiException {
        MessageConsumer started = starter.start();
        synchronized (lock) {
            this.starter = starter;
            this.consumer = started;
            this.afterClose = afterClose;
        }
        long every = Math.max(100, ackWait.toMillis() / 3);
        ticker = scheduler.scheduleWithFixedDelay(this::sendInProgress, every, every, TimeUnit.MILLISECONDS);
    }

    /** Replaces the pulling consumer, keeping what is held: its acks stay valid for the same server consumer. */
    void restartConsumer() {
        MessageConsumer old;
        synchronized (lock) {
            if (closing || starter == null) {
                return;
            }
            old = consumer;
        }
        try {
            old.stop();
            old.close();
        } catch (Exception e) {
            log.debug("closing the old consumer of '{}' failed: {}", spec.topic(), e.toString());
        }
        try {
            MessageConsumer fresh = starter.start();
            boolean stale;
            synchronized (lock) {
                stale = closing;
                if (!stale) {
                    consumer = fresh;
                }
            }
            if (stale) {
                fresh.stop();
                fresh.close();
            } else {
                log.info("resumed pulling '{}' after the reconnect", spec.topic());
            }
        } catch (Exception e) {
            log.warn("could not resume pulling '{}' after the reconnect: {}; jnats retries on its heartbeat", spec.topic(), e.toString());
        }
    }

    // ------------------------------------------------------------------ arrivals, on jnats threads

    void onJetStream(io.nats.client.Message m) {
        if (!m.isJetStream()) {
            return;
        }
        NatsDelivery d = NatsDelivery.jetStream(m, spec.topic(), this::settled);
        if (closing) {
            m.nak(); // give it straight back to the group
            return;
        }
        NatsDelivery prior = held.putIfAbsent(d.streamSequence(), d);
        if (prior != null) {
            // the ack wait ran out while we still hold it: the copy we hold will settle it
            log.debug("sequence {} on '{}' redelivered while still in flight here; not running it twice", d.streamSequence(), spec.topic());
            m.inProgress();
            return;
        }
        hand(d);
    }

    private void onCore(io.nats.client.Message m) {
        if (closing) {
            return;
        }
        hand(NatsDelivery.core(m, spec.topic(), "nats-" + m.getSID() + "-" + coreIds.incrementAndGet(), this::settled));
    }

    private void hand(NatsDelivery d) {
        synchronized (lock) {
            if (isPaused || !paused.isEmpty()) {
                paused.add(d);
                return;
            }
        }
        if (!dispatcher.dispatch(d.message().key(), d)) {
            giveBack(d);
        }
    }

    private void settled(NatsDelivery d) {
        if (d.isJetStream()) {
            held.remove(d.streamSequence(), d);
        }
    }

    private void sendInProgress() {
        for (NatsDelivery d : held.values()) {
            try {
                d.inProgress();
            } catch (RuntimeException e) {
                log.debug("in-progress ack for {} failed: {}", d, e.toString());
            }
        }
    }

    private void giveBack(NatsDelivery d) {
        if (d.isJetStream()) {
            held.remove(d.streamSequence(), d);
            d.revoke();
            try {
                d.nats().nak();
            } catch (RuntimeException e) {
                log.debug("nak of {} failed: {}; the ack wait will bring it back", d, e.toString());
            }
        } else {
            log.debug("core NATS message {} on '{}' dropped at close (at-most-once)", d.message().id(), spec.topic());
        }
    }

    // ------------------------------------------------------------------ BindingSubscription

    @Override
    public void pause() {
        isPaused = true;
    }

    @Override
    public void resume() {
        isPaused = false;
        while (true) {
            NatsDelivery d;
            synchronized (lock) {
                if (isPaused) {
                    return;
                }
                d = paused.poll();
            }
            if (d == null) {
                return;
            }
            if (!dispatcher.dispatch(d.message().key(), d)) {
                giveBack(d);
            }
        }
    }

    @Override
    public CompletionStage<Void> close(Duration drainTimeout) {
        List<NatsDelivery> notStarted = new ArrayList<>();
        MessageConsumer c;
        Dispatcher core;
        synchronized (lock) {
            if (closing) {
                return closed;
            }
            closing = true;
            c = consumer;
            core = coreDispatcher;
            notStarted.addAll(paused);
            paused.clear();
        }
        if (c != null) {
            try {
                c.stop(); // no more pulls; what is still on the wire is nak'ed on arrival
            } catch (RuntimeException e) {
                log.debug("stopping the consumer of '{}' failed: {}", spec.topic(), e.toString());
            }
        }
        if (core != null) {
            try {
                connection.closeDispatcher(core);
            } catch (RuntimeException e) {
                log.debug("closing the core dispatcher of '{}' failed: {}", spec.topic(), e.toString());
            }
        }
        notStarted.addAll(dispatcher.close());
        notStarted.forEach(this::giveBack);

        CompletableFuture<Void> idle = dispatcher.whenIdle().toCompletableFuture();
        ScheduledFuture<?> timeout = scheduler.schedule(() -> idle.complete(null), drainTimeout.toMillis(), TimeUnit.MILLISECONDS);
        idle.whenComplete((r, e) -> {
            timeout.cancel(false);
            io.execute(() -> finishClose(c));
        });
        return closed;
    }

    private void finishClose(MessageConsumer c) {
        try {
            List<NatsDelivery> stillRunning = new ArrayList<>(held.values());
            if (!stillRunning.isEmpty()) {
                log.warn("{} handler(s) on '{}' did not finish within the drain timeout; their messages will be redelivered",
                        stillRunning.size(), spec.topic());
                stillRunning.forEach(this::giveBack);
            }
            if (ticker != null) {
                ticker.cancel(false);
            }
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.debug("closing the consumer of '{}' failed: {}", spec.topic(), e.toString());
                }
            }
            afterClose.run();
        } catch (RuntimeException e) {
            log.warn("closing the subscription to '{}' failed: {}", spec.topic(), e.toString());
        } finally {
            closed.complete(null);
        }
    }
}
