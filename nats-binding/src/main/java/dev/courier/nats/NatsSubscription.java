package dev.courier.nats;

import dev.courier.Subscribe;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.OrderedDispatcher;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStreamApiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One Courier subscription on NATS: a JetStream pull consumer and/or core NATS subscriptions
 * (the topic's subject for core topics, the request subject always), feeding one
 * {@link OrderedDispatcher} on the handler executor. jnats' threads only hand messages over.
 *
 * <p>JetStream deliveries are tracked by stream sequence while they are held (running, waiting
 * behind their key, or paused): they receive in-progress acks every third of the ack wait, and a
 * redelivery of a sequence still held here (the ack wait ran out anyway) is not run a second time.
 *
 * <p>Closing gives back (nak) what did not run, but only once the server has ended every pull
 * request of this subscription: a message the server sends to a request nobody reads any more (a
 * nak goes straight back to an open one) waits out the ack wait and then comes back behind later
 * messages of its key. So close stops asking ({@link PullLoop}), waits until the requests that may
 * still bring messages have expired (at most {@code courier.nats.consumer.pull-expiry}; meanwhile what they bring is
 * kept to give back, and everything kept gets in-progress acks), drains the pull's own dispatcher
 * (the server gets the unsubscribe), then naks what it kept in stream order, so the group's next
 * consumer gets it at once and in order, and flushes before the close completes.
 *
 * <p>Core NATS has no flow control: the server sends whatever is published. The subscription holds
 * at most {@code maxInFlight} core messages (running, waiting behind their key, or paused); for
 * the next one jnats' dispatcher thread waits for room, so what arrives meanwhile stays in jnats'
 * pending buffer, whose limits drop the excess and report a slow consumer. Handing everything on
 * would queue it in Courier's heap without bound instead. Thread-safe.
 */
final class NatsSubscription implements BindingSubscription {

    private static final Logger log = LoggerFactory.getLogger(NatsSubscription.class);
    /** Allowance for a pull request's way to the server, on top of its expiry. */
    private static final Duration PULL_MARGIN = Duration.ofMillis(200);

    private final Subscribe spec;
    private final Connection connection;
    private final OrderedDispatcher<NatsDelivery> dispatcher;
    private final ScheduledExecutorService scheduler;
    private final Executor io;
    private final CoreFlusher flusher;
    private final Map<Long, NatsDelivery> held = new ConcurrentHashMap<>();
    private final AtomicLong coreIds = new AtomicLong();
    /** Room for core messages held here (see the class comment): taken on arrival, given back once settled or dropped. */
    private final Semaphore coreRoom;
    private final Object lock = new Object();
    private final ArrayDeque<NatsDelivery> paused = new ArrayDeque<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** JetStream messages to give back once the pull request is gone (see the class comment). */
    private final Queue<io.nats.client.Message> toGiveBack = new ConcurrentLinkedQueue<>();

    private volatile boolean isPaused;
    /** A resume() is handing the held deliveries over: new ones queue behind them. Guarded by {@code lock}. */
    private boolean resuming;
    private volatile boolean closing;
    private volatile boolean unsubscribed;
    private PullLoop consumer;
    private ConsumerStarter starter;
    private Runnable afterClose = () -> { };
    private Dispatcher coreDispatcher;
    private Dispatcher pullDispatcher;
    private ScheduledFuture<?> ticker;

    NatsSubscription(Subscribe spec, Connection connection, DeliveryProcessor processor, Executor handlerExecutor,
                     ScheduledExecutorService scheduler, Executor io, CoreFlusher flusher) {
        this.spec = spec;
        this.flusher = flusher;
        this.connection = connection;
        this.scheduler = scheduler;
        this.io = io;
        this.coreRoom = new Semaphore(spec.maxInFlight());
        this.dispatcher = new OrderedDispatcher<>(handlerExecutor, spec.concurrency(), spec.ordering(), d -> {
            if (d.isRevoked()) {
                return CompletableFuture.completedFuture(null);
            }
            CompletionStage<Void> done = processor.process(d);
            if (!d.isJetStream()) {
                done.whenComplete((r, e) -> coreRoom.release());
            }
            return done;
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
        /** Starts consuming on {@code dispatcher}, handing messages to {@link #onJetStream}. */
        PullLoop start(Dispatcher dispatcher) throws IOException, JetStreamApiException;
    }

    /** Whether the server lost the subscription's consumer (with its stream). */
    interface GoneCheck {
        boolean gone() throws IOException;
    }

    void attachConsumer(ConsumerStarter starter, GoneCheck goneCheck, Runnable afterClose, Duration ackWait)
            throws IOException, JetStreamApiException {
        this.goneCheck = goneCheck;
        Dispatcher d;
        synchronized (lock) {
            if (pullDispatcher == null) {
                pullDispatcher = connection.createDispatcher();
            }
            d = pullDispatcher;
        }
        PullLoop started = starter.start(d);
        synchronized (lock) {
            this.starter = starter;
            this.consumer = started;
            this.afterClose = afterClose;
        }
        long every = Math.max(100, ackWait.toMillis() / 3);
        ticker = scheduler.scheduleWithFixedDelay(this::sendInProgress, every, every, TimeUnit.MILLISECONDS);
    }

    String topic() {
        return spec.topic();
    }

    /** Whether {@code d} is the dispatcher this subscription pulls on (jnats names it in its pull errors). */
    boolean pullsOn(Dispatcher d) {
        synchronized (lock) {
            return d != null && d == pullDispatcher;
        }
    }

    /** When a restart for a pull in trouble last ran (nanoTime). */
    private final AtomicLong troubleRestart = new AtomicLong(System.nanoTime() - TimeUnit.MINUTES.toNanos(1));
    private static final long TROUBLE_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** True (and counted) if no restart for a pull in trouble ran in the last five seconds. */
    boolean troubleRestartDue() {
        long last = troubleRestart.get();
        long now = System.nanoTime();
        return now - last >= TROUBLE_PAUSE_NANOS && troubleRestart.compareAndSet(last, now);
    }

    /**
     * Replaces the pulling consumer, keeping what is held: its acks stay valid for the same server
     * consumer (the starter creates the consumer again if the server lost it with its stream).
     */
    void restartConsumer() {
        restart(ALWAYS);
    }

    /**
     * Replaces the pulling consumer only if the server lost it (a publish found the stream gone, a
     * pull reported its consumer deleted): a pull stopped for nothing strands what is on its way to
     * it until the ack wait.
     */
    void restartConsumerIfGone() {
        restart(IF_GONE);
    }

    private static final int NONE = 0;
    private static final int IF_GONE = 1;
    private static final int ALWAYS = 2;

    private void restart(int kind) {
        // one restart at a time: a failed publish, a pull error and a reconnect may all ask at once, and two
        // restarts side by side would each create a consumer and pull, delivering messages twice
        synchronized (restartLock) {
            if (restarting) {
                again = Math.max(again, kind); // the running one goes once more when done
                return;
            }
            restarting = true;
        }
        int run = kind;
        while (true) {
            restartOnce(run == ALWAYS);
            synchronized (restartLock) {
                if (again == NONE) {
                    restarting = false;
                    return;
                }
                run = again;
                again = NONE;
            }
        }
    }

    private final Object restartLock = new Object();
    private boolean restarting;
    private int again = NONE;
    /** Restarts that failed in a row; guarded by the one-at-a-time rule of {@link #restart}. */
    private int restartFailures;
    private volatile GoneCheck goneCheck = () -> false;

    private void restartOnce(boolean always) {
        if (!always) {
            try {
                if (!goneCheck.gone()) {
                    return;
                }
            } catch (IOException e) {
                log.debug("could not check the consumer of '{}': {}", spec.topic(), e.toString());
                return;
            }
        }
        PullLoop old;
        Dispatcher d;
        synchronized (lock) {
            if (closing || starter == null) {
                return;
            }
            old = consumer;
            d = pullDispatcher;
        }
        PullLoop fresh;
        try {
            fresh = starter.start(d);
        } catch (Exception e) {
            // the old pull keeps going meanwhile (it may still work); a restart that fails is tried again, as nothing
            // else may ask for one (a process that only consumes hears of nothing once its pull is gone)
            long pauseMs = Math.min(30_000, 1_000L << Math.min(restartFailures++, 5));
            log.warn("could not resume pulling '{}': {}; trying again in {} ms", spec.topic(), e.toString(), pauseMs);
            try {
                scheduler.schedule(() -> io.execute(always ? this::restartConsumer : this::restartConsumerIfGone), pauseMs,
                        TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException rejected) {
                log.debug("not trying '{}' again: Courier is closing", spec.topic());
            }
            return;
        }
        restartFailures = 0;
        boolean stale;
        synchronized (lock) {
            stale = closing;
            if (!stale) {
                consumer = fresh;
            }
        }
        if (stale) {
            fresh.close();
        } else {
            log.info("resumed pulling '{}'", spec.topic());
        }
        retire(old);
    }

    /**
     * Stops {@code old} asking and unsubscribes it only once its open requests have ended: what they
     * still bring reaches {@link #onJetStream} like any message, instead of being dropped by the
     * client while the server counts it delivered (it would come back only after the ack wait).
     */
    private void retire(PullLoop old) {
        old.stop();
        long delay = old.openUntil(PULL_MARGIN) - System.nanoTime();
        try {
            scheduler.schedule(old::close, Math.max(0, delay), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            old.close();
        }
    }

    // ------------------------------------------------------------------ arrivals, on jnats threads

    void onJetStream(io.nats.client.Message m) {
        if (!m.isJetStream()) {
            return;
        }
        NatsDelivery d = NatsDelivery.jetStream(m, spec.topic(), this::settled);
        if (closing) {
            giveBackLater(m);
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
        try {
            coreRoom.acquire(); // on this subscription's own jnats dispatcher thread: jnats buffers meanwhile
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (closing) {
            coreRoom.release(); // woken by close: wake the next waiter too
            return;
        }
        hand(NatsDelivery.core(m, spec.topic(), "nats-" + m.getSID() + "-" + coreIds.incrementAndGet(), this::settled));
    }

    private void hand(NatsDelivery d) {
        synchronized (lock) {
            if (isPaused || resuming || !paused.isEmpty()) {
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
        // kept to give back while a close waits for the last pull request: the ack wait must not run out meanwhile
        for (io.nats.client.Message m : toGiveBack) {
            try {
                m.inProgress();
            } catch (RuntimeException e) {
                log.debug("in-progress ack for a message to give back on '{}' failed: {}", spec.topic(), e.toString());
            }
        }
    }

    private void giveBack(NatsDelivery d) {
        if (d.isJetStream()) {
            held.remove(d.streamSequence(), d);
            d.revoke();
            giveBackLater(d.nats());
        } else {
            coreRoom.release();
            log.debug("core NATS message {} on '{}' dropped at close (at-most-once)", d.message().id(), spec.topic());
        }
    }

    /** Naks {@code m} now if the pull request is gone already (or the subscription is open), else after the unsubscribe. */
    private void giveBackLater(io.nats.client.Message m) {
        if (!closing) {
            nak(m);
            return;
        }
        toGiveBack.add(m);
        if (unsubscribed) {
            giveBackQueued();
        }
    }

    /** Naks what is kept to give back, in stream order: the server redelivers naked messages in the order of the naks. */
    private void giveBackQueued() {
        List<io.nats.client.Message> batch = new ArrayList<>();
        io.nats.client.Message m;
        while ((m = toGiveBack.poll()) != null) {
            batch.add(m);
        }
        batch.sort(Comparator.comparingLong(NatsSubscription::streamSequence));
        batch.forEach(this::nak);
    }

    private static long streamSequence(io.nats.client.Message m) {
        try {
            return m.metaData().streamSequence();
        } catch (RuntimeException e) {
            return Long.MAX_VALUE; // not a JetStream message after all: its place does not matter
        }
    }

    /**
     * Waits until every pull request that may still bring a message has ended at the server (see
     * the class comment): at most a pull request's expiry after close stopped the pulls. At once
     * without a connection (the server then ends the requests itself).
     */
    private void awaitPullsEnded(PullLoop c) {
        if (c == null || connection.getStatus() != Connection.Status.CONNECTED) {
            return;
        }
        long wait = c.openUntil(PULL_MARGIN) - System.nanoTime();
        if (wait > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void nak(io.nats.client.Message m) {
        try {
            m.nak();
        } catch (RuntimeException e) {
            log.debug("nak of a message on '{}' failed: {}; the ack wait will bring it back", spec.topic(), e.toString());
        }
    }

    /** Unsubscribes at the server and receives what it sent before (kept to give back), within the publish timeout. */
    private void drain(Dispatcher pull) {
        if (connection.getStatus() != Connection.Status.CONNECTED) {
            closeDispatcherQuietly(pull);
            return;
        }
        try {
            if (!flusher.drain(pull).get(flusher.timeout().toMillis() + 1000, TimeUnit.MILLISECONDS)) {
                log.debug("draining the pull of '{}' did not finish in time", spec.topic());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("draining the pull of '{}' failed: {}", spec.topic(), e.toString());
        }
        closeDispatcherQuietly(pull);
    }

    private void closeDispatcherQuietly(Dispatcher d) {
        try {
            if (d.isActive()) {
                connection.closeDispatcher(d);
            }
        } catch (RuntimeException e) {
            log.debug("closing the pull dispatcher of '{}' failed: {}", spec.topic(), e.toString());
        }
    }

    /** Waits until the server has everything sent so far (settlements, unsubscribes); best effort. */
    private void flushQuietly() {
        if (connection.getStatus() != Connection.Status.CONNECTED) {
            return; // nothing to wait for: the server gives back what this connection held when it is gone
        }
        try {
            flusher.flushAndWait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (TimeoutException | RuntimeException e) {
            log.debug("flush while closing '{}' failed: {}; unsettled messages come back after the ack wait", spec.topic(), e.toString());
        }
    }

    /** Deliveries received and not yet settled: running, waiting behind their key, or paused. */
    int holding() {
        synchronized (lock) {
            return dispatcher.pending() + paused.size();
        }
    }

    // ------------------------------------------------------------------ BindingSubscription

    @Override
    public void pause() {
        isPaused = true;
    }

    @Override
    public void resume() {
        synchronized (lock) {
            isPaused = false;
            if (resuming) {
                return; // another resume() is handing the held deliveries over; it takes these too
            }
            resuming = true;
        }
        while (true) {
            NatsDelivery d;
            synchronized (lock) {
                d = isPaused ? null : paused.poll();
                if (d == null) {
                    resuming = false;
                    return;
                }
            }
            // outside the lock; what arrives meanwhile queues behind (see hand), so it cannot overtake d
            if (!dispatcher.dispatch(d.message().key(), d)) {
                giveBack(d);
            }
        }
    }

    @Override
    public CompletionStage<Void> close(Duration drainTimeout) {
        List<NatsDelivery> notStarted = new ArrayList<>();
        PullLoop c;
        Dispatcher core;
        Dispatcher pull;
        synchronized (lock) {
            if (closing) {
                return closed;
            }
            closing = true;
            c = consumer;
            pull = pullDispatcher;
            core = coreDispatcher;
            notStarted.addAll(paused);
            paused.clear();
        }
        coreRoom.release(); // a core arrival waiting for room sees the close (and jnats' closeDispatcher need not wait for it)
        if (c != null) {
            try {
                c.stop(); // no more pull requests; what the open ones still bring is kept to give back
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
            io.execute(() -> finishClose(c, pull));
        });
        return closed;
    }

    private void finishClose(PullLoop c, Dispatcher pull) {
        try {
            List<NatsDelivery> stillRunning = new ArrayList<>(held.values());
            if (!stillRunning.isEmpty()) {
                log.warn("{} handler(s) on '{}' did not finish within the drain timeout; their messages will be redelivered",
                        stillRunning.size(), spec.topic());
                stillRunning.forEach(this::giveBack);
            }
            awaitPullsEnded(c); // the ticker keeps what waits to be given back meanwhile
            if (ticker != null) {
                ticker.cancel(false);
            }
            if (pull != null) {
                drain(pull); // once the server has the unsubscribe, it sends nothing more to this pull request
            }
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.debug("closing the consumer of '{}' failed: {}", spec.topic(), e.toString());
                }
            }
            unsubscribed = true;
            giveBackQueued();
            flushQuietly(); // the naks and every settlement made before are on the server when close completes
            afterClose.run();
        } catch (RuntimeException e) {
            log.warn("closing the subscription to '{}' failed: {}", spec.topic(), e.toString());
        } finally {
            closed.complete(null);
        }
    }
}
