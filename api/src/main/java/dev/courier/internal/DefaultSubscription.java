package dev.courier.internal;

import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.spi.BindingSubscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/** The user's handle on a binding subscription. */
final class DefaultSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(DefaultSubscription.class);

    private final Subscribe spec;
    private final BindingSubscription inner;
    private final Runnable onClose;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean paused;

    DefaultSubscription(Subscribe spec, BindingSubscription inner, Runnable onClose) {
        this.spec = spec;
        this.inner = inner;
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
            inner.pause();
        }
    }

    @Override
    public synchronized void resume() {
        if (paused && !closed.get()) {
            paused = false;
            inner.resume();
        }
    }

    @Override
    public boolean isPaused() {
        return paused;
    }

    @Override
    public void close(Duration drainTimeout) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            // the binding bounds the drain itself; the extra margin only guards against a binding that never completes
            inner.close(drainTimeout).toCompletableFuture().get(drainTimeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("closing subscription to '{}' did not finish cleanly: {}", spec.topic(), e.toString());
        } finally {
            onClose.run();
        }
    }

    @Override
    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public String toString() {
        return "Subscription{" + spec.topic() + (spec.group() != null ? "/" + spec.group() : "") + (paused ? ", paused" : "")
                + (closed.get() ? ", closed" : "") + '}';
    }
}
