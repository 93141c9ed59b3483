package dev.courier.internal;

import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.CourierListener;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Publisher;
import dev.courier.spi.Binding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A publisher view over the binding: tracks its outstanding publishes so close() can flush them,
 * and fails publishes the broker has not confirmed within the publish timeout.
 */
public final class DefaultPublisher implements Publisher {

    private static final Logger log = LoggerFactory.getLogger(DefaultPublisher.class);

    private final Binding binding;
    private final Codecs codecs;
    private final CourierListener listener;
    private final boolean listening;
    private final ScheduledExecutorService scheduler;
    private final Duration publishTimeout;
    private final Duration closeTimeout;
    private final AtomicInteger outstanding = new AtomicInteger();
    private final Object flushLock = new Object();
    private volatile boolean closed;
    private final Runnable onClose;
    private final ConcurrentLinkedQueue<Deadline> timeouts = new ConcurrentLinkedQueue<>();
    private volatile ScheduledFuture<?> sweeper;
    /** Taken by whoever removes from {@link #timeouts}, so a peeked head is still the head when polled. */
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicLong armed = new AtomicLong();
    private static final int PRUNE_EVERY = 64;

    DefaultPublisher(Binding binding, Codecs codecs, CourierListener listener, ScheduledExecutorService scheduler,
                     Duration publishTimeout, Duration closeTimeout, Runnable onClose) {
        this.binding = binding;
        this.codecs = codecs;
        this.listener = listener;
        this.listening = listener != CourierListener.NONE;
        this.scheduler = scheduler;
        this.publishTimeout = publishTimeout;
        this.closeTimeout = closeTimeout;
        this.onClose = onClose;
    }

    @Override
    public Message.Builder message(String topic, Object payload) {
        return codecs.encode(topic, payload);
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        outstanding.incrementAndGet();
        if (closed) {
            outstanding.decrementAndGet();
            return CompletableFuture.failedFuture(new ClosedException("publisher"));
        }
        CompletableFuture<PublishReceipt> f;
        try {
            f = binding.publish(message).toCompletableFuture();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        if (f.isDone()) {
            finished(message, f);
        } else {
            withTimeout(f, message);
            // bookkeeping runs before the caller's own callbacks see the stage complete, and close()
            // waits for the counter: so after close() every stage returned by publish is complete
            if (listening) {
                f.whenComplete((r, e) -> finished(message, null, r, e));
            } else {
                // without a listener nothing needs the message once the binding has it: not capturing it lets
                // the message and its payload die young instead of staying reachable while the publish is in flight
                f.whenComplete((r, e) -> settled());
            }
        }
        return f;
    }

    private void finished(Message message, CompletableFuture<PublishReceipt> f) {
        if (f.isCompletedExceptionally()) {
            Throwable e = f.handle((r, ex) -> ex).join();
            finished(message, f, null, e);
        } else {
            finished(message, f, f.join(), null);
        }
    }

    private void finished(Message message, CompletableFuture<PublishReceipt> f, PublishReceipt r, Throwable e) {
        try {
            if (e == null) {
                listener.published(message, r);
            } else {
                listener.publishFailed(message, SubscriptionPipeline.unwrap(e));
            }
        } catch (RuntimeException ex) {
            log.warn("publish listener threw; ignored", ex);
        }
        settled();
    }

    private void settled() {
        if (outstanding.decrementAndGet() == 0 && closed) {
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
    private void withTimeout(CompletableFuture<PublishReceipt> f, Message message) {
        timeouts.add(new Deadline(f, message.topic(), message.id(), System.nanoTime() + publishTimeout.toNanos()));
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
            Deadline d;
            while ((d = timeouts.peek()) != null && d.future.isDone()) {
                timeouts.poll();
            }
        } finally {
            draining.set(false);
        }
    }

    /** One outstanding publish: the topic and id rather than the message, whose payload must not outlive the publish. */
    private static final class Deadline {
        final CompletableFuture<PublishReceipt> future;
        final String topic;
        final String id;
        final long nanos;

        Deadline(CompletableFuture<PublishReceipt> future, String topic, String id, long nanos) {
            this.future = future;
            this.topic = topic;
            this.id = id;
            this.nanos = nanos;
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
        Deadline d;
        while ((d = timeouts.peek()) != null) {
            if (d.future.isDone()) {
                timeouts.poll();
            } else if (d.nanos - now <= 0) {
                timeouts.poll();
                d.future.completeExceptionally(new PublishException(d.topic, "the broker did not confirm message "
                        + d.id + " within " + publishTimeout.toMillis()
                        + " ms (courier.publish.timeout); it may or may not have been stored", null));
            } else {
                break;
            }
        }
    }

    @Override
    public CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages) {
        if (closed) {
            return CompletableFuture.failedFuture(new ClosedException("publisher"));
        }
        if (messages.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        outstanding.addAndGet(messages.size());
        CompletableFuture<List<PublishReceipt>> f;
        try {
            f = binding.publishAll(messages).toCompletableFuture();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, e) -> {
            if (outstanding.addAndGet(-messages.size()) == 0 && closed) {
                synchronized (flushLock) {
                    flushLock.notifyAll();
                }
            }
        });
        return f;
    }

    @Override
    public int outstanding() {
        return outstanding.get();
    }

    /** Refuses new publishes and waits up to the close timeout for outstanding ones. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + closeTimeout.toNanos();
        synchronized (flushLock) {
            while (outstanding.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    log.warn("publisher closed with {} publishes still unconfirmed after {} ms", outstanding.get(), closeTimeout.toMillis());
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

    boolean isClosed() {
        return closed;
    }
}
