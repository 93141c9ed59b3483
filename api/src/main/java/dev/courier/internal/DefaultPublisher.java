package dev.courier.internal;

import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.ContentTypes;
import dev.courier.CourierListener;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Publisher;
import dev.courier.spi.Binding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A publisher view over the binding: tracks its outstanding publishes so close() can flush them,
 * and fails publishes the broker has not confirmed within the publish timeout, unless the binding
 * does that itself ({@link Binding#settlesPublishesWithin}). A publish failed by that timeout
 * completes on the handler executor, not on the scheduler's one thread the sweep runs on.
 */
public final class DefaultPublisher implements Publisher {

    private static final Logger log = LoggerFactory.getLogger(DefaultPublisher.class);

    private final Binding binding;
    private final Codecs codecs;
    private final CourierListener listener;
    private final boolean listening;
    /** The binding is done with a payload array when publishInto returns. */
    private final boolean passBytes;
    private final ScheduledExecutorService scheduler;
    /** Completes the publishes the sweeper fails (the handler executor). */
    private final Executor completions;
    /** The binding does not settle every publish within the publish timeout by itself: the sweeper does. */
    private final boolean tracksTimeouts;
    private final Duration publishTimeout;
    private final long timeoutNanos;
    private final Duration closeTimeout;
    /** Publishes begun; counted on the publishing threads. */
    private final LoneCounter started = new LoneCounter();
    /**
     * Publishes settled, counted before their stage completes, so a caller who sees the stage
     * complete never sees the publish {@link #outstanding()}; usually counted on the client's I/O
     * thread, hence a line apart from {@link #started}.
     */
    private final LoneCounter settled = new LoneCounter();
    /** Publishes whose stage is complete; close() waits for every one begun. */
    private final LoneCounter completed = new LoneCounter();
    private final Object flushLock = new Object();
    private volatile boolean closed;
    private final Runnable onClose;
    private final ConcurrentLinkedQueue<Pending> timeouts = new ConcurrentLinkedQueue<>();
    private volatile ScheduledFuture<?> sweeper;
    /** Taken by whoever removes from {@link #timeouts}, so a peeked head is still the head when polled. */
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicLong armed = new AtomicLong();
    private static final int PRUNE_EVERY = 64;

    DefaultPublisher(Binding binding, Codecs codecs, CourierListener listener, ScheduledExecutorService scheduler,
                     Executor completions, Duration publishTimeout, Duration closeTimeout, Runnable onClose) {
        this.binding = binding;
        this.codecs = codecs;
        this.listener = listener;
        this.listening = listener != CourierListener.NONE;
        this.passBytes = binding.copiesPayloadOnPublish();
        this.scheduler = scheduler;
        this.completions = completions;
        this.publishTimeout = publishTimeout;
        this.timeoutNanos = publishTimeout.toNanos();
        this.tracksTimeouts = !binding.settlesPublishesWithin(publishTimeout);
        this.closeTimeout = closeTimeout;
        this.onClose = onClose;
    }

    @Override
    public Message.Builder message(String topic, Object payload) {
        return codecs.encode(topic, payload);
    }

    @Override
    public CompletionStage<PublishReceipt> publish(String topic, Object payload) {
        return publish(topic, null, payload);
    }

    /**
     * Bytes are not copied when nothing could see the caller change them afterwards: the binding
     * is done with the array when it returns ({@link Binding#copiesPayloadOnPublish()}) and no
     * listener keeps the message. The message never leaves this method otherwise.
     */
    @Override
    public CompletionStage<PublishReceipt> publish(String topic, String key, Object payload) {
        if (payload instanceof byte[] raw && !listening && passBytes) {
            return publish(Message.builder(topic).key(key).payloadOwned(raw).contentType(ContentTypes.OCTET_STREAM).build());
        }
        return publish(message(topic, payload).key(key).build());
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        Objects.requireNonNull(message, "message"); // before counting: a refused call is never outstanding
        started.increment();
        if (closed) {
            settled.increment();
            completed(1);
            return CompletableFuture.failedFuture(new ClosedException("publisher"));
        }
        // without a listener nothing needs the message once the binding has it: not keeping it lets the
        // message and its payload die young instead of staying reachable while the publish is in flight
        Pending p = new Pending(listening ? message : null, message.topic(), message.id(), tracksTimeouts ? System.nanoTime() + timeoutNanos : 0);
        try {
            binding.publishInto(message, p);
        } catch (RuntimeException e) {
            p.completeExceptionally(e);
        }
        if (tracksTimeouts && !p.isDone()) {
            withTimeout(p);
        }
        return p;
    }

    /** Counts {@code n} stages as complete and wakes a close() that waits for them. */
    private void completed(long n) {
        completed.add(n);
        if (closed) {
            synchronized (flushLock) {
                flushLock.notifyAll();
            }
        }
    }

    /**
     * Arms the publish timeout. One sweeper per publisher, rather than a timer per message, fails
     * what the broker has not confirmed in time: publishes are queued in the order they were made,
     * which with one timeout is also deadline order, so a sweep looks only at the head.
     */
    private void withTimeout(Pending p) {
        timeouts.add(p);
        if (sweeper == null) {
            startSweeper();
        }
        if ((armed.incrementAndGet() & (PRUNE_EVERY - 1)) == 0) {
            pruneDone();
        }
    }

    /**
     * Drops confirmed publishes from the head of the deadline queue, every {@value #PRUNE_EVERY}
     * publishes, so the queue stays about as long as the publishes in flight instead of growing
     * until the next sweep (a queue holding a second of publishes kept them alive past young
     * collections). Done on the publishing thread: pruning on every confirm cost the client's I/O
     * thread as much as the rest of Courier's confirm handling.
     */
    private void pruneDone() {
        if (timeouts.isEmpty() || !draining.compareAndSet(false, true)) {
            return; // whoever drains now (another publishing thread or the sweeper) takes these too, or the next one does
        }
        try {
            Pending d;
            while ((d = timeouts.peek()) != null && d.isDone()) {
                timeouts.poll();
            }
        } finally {
            draining.set(false);
        }
    }

    /**
     * One publish: the stage returned to the caller, the binding's result and the timeout-queue
     * entry in one object. Whoever settles it first (the binding on the broker's answer, the
     * sweeper on timeout, a caller's cancel) reports to the listener, counts the publish as
     * settled and completes the stage, in that order: the listener and {@link #outstanding()} have
     * seen the outcome before any caller does, and close() returns only once every stage is
     * complete ({@link #completed}). The sweeper settles on its thread but completes the stage on
     * the handler executor ({@link #timeOut}). It holds the topic and id, and the message only
     * when a listener needs it, since the payload must not outlive the publish.
     */
    private final class Pending extends CompletableFuture<PublishReceipt> {
        private static final AtomicIntegerFieldUpdater<Pending> SETTLING =
                AtomicIntegerFieldUpdater.newUpdater(Pending.class, "settling");

        final Message message;
        final String topic;
        final String id;
        final long nanos;
        private volatile int settling;

        Pending(Message message, String topic, String id, long nanos) {
            this.message = message;
            this.topic = topic;
            this.id = id;
            this.nanos = nanos;
        }

        @Override
        public boolean complete(PublishReceipt receipt) {
            if (!settle(receipt, null)) {
                return false;
            }
            try {
                return super.complete(receipt);
            } finally {
                completed(1);
            }
        }

        @Override
        public boolean completeExceptionally(Throwable failure) {
            if (!settle(null, failure)) {
                return false;
            }
            try {
                return super.completeExceptionally(failure);
            } finally {
                completed(1);
            }
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            CancellationException cancelled =
                    new CancellationException("publish of message " + id + " to '" + topic + "' cancelled by the caller");
            if (!settle(null, cancelled)) {
                return false;
            }
            try {
                return super.cancel(mayInterruptIfRunning);
            } finally {
                completed(1);
            }
        }

        /**
         * Fails the publish at its deadline, on the sweeper's thread: settled there (so a confirm
         * arriving now no longer counts), the stage completed on the handler executor. The sweep
         * runs on the Courier's one scheduler thread, and code chained onto the failure that blocks
         * there (a retry waiting for its own publish, say) would hold up every other publish's
         * timeout, the requests' and the rest of the Courier's timers. Inline only when the
         * executor refuses it, as the Courier is closing.
         */
        void timeOut(PublishException failure) {
            if (!settle(null, failure)) {
                return;
            }
            Runnable fail = () -> {
                try {
                    super.completeExceptionally(failure);
                } finally {
                    completed(1);
                }
            };
            try {
                completions.execute(fail);
            } catch (RejectedExecutionException rejected) {
                fail.run();
            }
        }

        /**
         * The first settlement wins: it reports to the listener and counts the publish as settled
         * (the caller counts it as completed once the stage is).
         *
         * @return false if the publish was settled already
         */
        private boolean settle(PublishReceipt receipt, Throwable failure) {
            if (!SETTLING.compareAndSet(this, 0, 1)) {
                return false;
            }
            report(receipt, failure);
            settled.increment();
            return true;
        }

        private void report(PublishReceipt receipt, Throwable failure) {
            if (message == null) {
                return;
            }
            try {
                if (failure == null) {
                    listener.published(message, receipt);
                } else {
                    listener.publishFailed(message, SubscriptionPipeline.unwrap(failure));
                }
            } catch (Throwable ex) {
                // also an Error (a failed assert in a test's listener) or a checked exception thrown where none is declared
                // (Kotlin, sneaky throws): the stage must still complete and the publish stop being outstanding
                log.warn("publish listener threw; ignored", ex);
            }
        }
    }

    private synchronized void startSweeper() {
        if (sweeper != null) {
            return;
        }
        long period = Math.max(10, Math.min(1000, publishTimeout.toMillis() / 10));
        sweeper = scheduler.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    private void sweep() {
        if (!draining.compareAndSet(false, true)) {
            return; // a publishing thread is pruning the head; the next sweep looks again
        }
        try {
            sweepHead();
        } finally {
            draining.set(false);
        }
    }

    private void sweepHead() {
        long now = System.nanoTime();
        Pending d;
        while ((d = timeouts.peek()) != null) {
            if (d.isDone()) {
                timeouts.poll();
            } else if (d.nanos - now <= 0) {
                timeouts.poll();
                d.timeOut(new PublishException(d.topic, "the broker did not confirm message "
                        + d.id + " within " + publishTimeout.toMillis()
                        + " ms (courier.publish.timeout); it may or may not have been stored", null));
            } else {
                break;
            }
        }
    }

    /**
     * Each message goes through {@link #publish(Message)}, so a batch is timed out, counted and
     * reported to the listener exactly as single publishes are.
     */
    @Override
    public CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages) {
        Objects.requireNonNull(messages, "messages");
        int i = 0;
        for (Message m : messages) {
            if (m == null) {
                throw new NullPointerException("messages[" + i + "] is null; nothing of the batch was published");
            }
            i++;
        }
        if (closed) {
            return CompletableFuture.failedFuture(new ClosedException("publisher"));
        }
        if (messages.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>(messages.size());
        for (Message m : messages) {
            stages.add(publish(m).toCompletableFuture());
        }
        return CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)).thenApply(v -> {
            List<PublishReceipt> receipts = new ArrayList<>(stages.size());
            for (CompletableFuture<PublishReceipt> f : stages) {
                receipts.add(f.join());
            }
            return receipts;
        });
    }

    @Override
    public int outstanding() {
        long done = settled.get(); // first: a count read before the other can only be the smaller
        return (int) (started.get() - done);
    }

    /** Refuses new publishes and waits up to the close timeout for outstanding ones. */
    @Override
    public void close() {
        close(closeTimeout);
    }

    /** Refuses new publishes and waits up to {@code wait} for outstanding ones (what is left of the Courier's close). */
    void close(Duration wait) {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + TimeUnit.NANOSECONDS.convert(wait);
        synchronized (flushLock) {
            while (!allCompleted()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    log.warn("publisher closed with {} publishes still unconfirmed after {} ms", outstanding(), wait.toMillis());
                    break;
                }
                try {
                    flushLock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        ScheduledFuture<?> s = sweeper;
        if (s != null) {
            s.cancel(false);
        }
        onClose.run();
    }

    private boolean allCompleted() {
        long done = completed.get();
        return done >= started.get();
    }

    boolean isClosed() {
        return closed;
    }
}
