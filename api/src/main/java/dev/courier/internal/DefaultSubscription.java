package dev.courier.internal;

import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.spi.BindingSubscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/** The user's handle on a binding subscription. */
final class DefaultSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(DefaultSubscription.class);

    private final Subscribe spec;
    private final SubscriptionPipeline pipeline;
    private final BindingSubscription inner;
    /** Runs what the chain registered to give back what it holds ({@link dev.courier.Interceptor.Flow#onClose}). */
    private final Runnable onClosing;
    private final Runnable onClose;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Completes once the close finished (drained, or given up on) and {@code onClose} ran. */
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private final AtomicBoolean finished = new AtomicBoolean();
    /** Paused by the application ({@link #pause()}). */
    private volatile boolean paused;
    /** Paused by the handler chain ({@link dev.courier.Interceptor.Flow}, e.g. an open circuit breaker); one never undoes the other. */
    private volatile boolean pausedByChain;

    DefaultSubscription(Subscribe spec, SubscriptionPipeline pipeline, BindingSubscription inner, Runnable onClosing, Runnable onClose) {
        this.spec = spec;
        this.pipeline = pipeline;
        this.inner = inner;
        this.onClosing = onClosing;
        this.onClose = onClose;
    }

    @Override
    public Subscribe spec() {
        return spec;
    }

    @Override
    public synchronized void pause() {
        if (!paused && !closed.get()) {
            paused = true;
            if (!pausedByChain) {
                inner.pause();
            }
        }
    }

    @Override
    public synchronized void resume() {
        if (paused && !closed.get()) {
            paused = false;
            if (!pausedByChain) {
                inner.resume();
            }
        }
    }

    /** The chain's pause: holds the subscription besides (never instead of) the application's. */
    synchronized void pauseByChain() {
        if (!pausedByChain && !closed.get()) {
            pausedByChain = true;
            if (!paused) {
                inner.pause();
            }
        }
    }

    /** Ends the chain's pause; the binding fetches again only if the application has not paused the subscription too. */
    synchronized void resumeByChain() {
        if (pausedByChain && !closed.get()) {
            pausedByChain = false;
            if (!paused) {
                inner.resume();
            }
        }
    }

    /** True while the application or the chain holds the subscription paused. */
    @Override
    public boolean isPaused() {
        return paused || pausedByChain;
    }

    /**
     * Called from one of this subscription's own handlers, the close is started but not waited for:
     * the drain waits for the running handlers, the calling one among them, which settles (and so
     * completes the drain) only once it returns. A later close() from elsewhere, such as the
     * Courier's, still waits for the drain.
     */
    @Override
    public void close(Duration drainTimeout) {
        if (drainTimeout == null || drainTimeout.isNegative()) {
            throw new IllegalArgumentException("drainTimeout must be zero or positive, was " + drainTimeout);
        }
        boolean started = startClose(drainTimeout);
        if (started) {
            giveBackHeld();
        }
        awaitClose(started, drainTimeout);
    }

    /**
     * Gives back to the broker, now, the deliveries the chain holds for later (a retry backoff, a
     * breaker's hold), which would otherwise keep the drain waiting until their wait ended, only to
     * be given back then. Called once the binding takes nothing new, so this subscription is not
     * handed them again; {@code Courier.close()} calls it once every subscription's close started,
     * so none of its other subscriptions is either.
     */
    void giveBackHeld() {
        onClosing.run();
    }

    /**
     * Starts the close without waiting for the drain: the binding stops taking messages at once.
     * {@code Courier.close()} starts every subscription's close this way before it waits for any,
     * so none keeps taking messages while another drains.
     *
     * @return true if this call started the close, false if it had been started before
     */
    boolean startClose(Duration drainTimeout) {
        if (!closed.compareAndSet(false, true)) {
            return false;
        }
        // a closing subscription takes no new message, so a key held by a handler that settled and works on no longer matters:
        // what it settled reaches the broker now, whether or not the drain outlasts the handler
        pipeline.applyDeferred();
        CompletionStage<Void> closing;
        try {
            closing = inner.close(drainTimeout);
        } catch (RuntimeException e) {
            closing = CompletableFuture.failedFuture(e);
        }
        closing.whenComplete((v, e) -> {
            if (e != null) {
                log.warn("closing subscription to '{}' did not finish cleanly: {}", spec.topic(), e.toString());
            }
            finish();
        });
        return true;
    }

    SubscriptionPipeline pipeline() {
        return pipeline;
    }

    /** Waits for the drain of a started close, unless called from one of this subscription's own handlers. */
    void awaitClose(boolean started, Duration drainTimeout) {
        if (pipeline.isHandlingHere()) {
            // not waiting for the calling handler, which may close the whole Courier before it returns: what it settled counts now
            pipeline.applyDeferred();
            return;
        }
        if (drained.isDone()) {
            return;
        }
        try {
            // the binding bounds the drain itself; the extra margin only guards against a binding that never completes
            drained.get(drainTimeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (started) {
                finish();
            }
        } catch (ExecutionException | TimeoutException e) {
            if (started) {
                log.warn("closing subscription to '{}' did not finish cleanly: {}", spec.topic(), e.toString());
                finish();
            }
        }
    }

    private void finish() {
        if (!finished.compareAndSet(false, true)) {
            return;
        }
        try {
            onClose.run();
        } finally {
            drained.complete(null);
        }
    }

    @Override
    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public String toString() {
        return "Subscription{" + spec.topic() + (spec.group() != null ? "/" + spec.group() : "") + (isPaused() ? ", paused" : "")
                + (closed.get() ? ", closed" : "") + '}';
    }
}
