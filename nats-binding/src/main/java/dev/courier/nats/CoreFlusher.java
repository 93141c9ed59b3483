package dev.courier.nats;

import io.nats.client.Connection;
import io.nats.client.Dispatcher;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Completes core NATS publishes when the server has them: one flush (a PING/PONG round trip)
 * covers every publish made before it started, so a burst of publishes costs one round trip, not
 * one each. Every flush of the binding goes through here, one at a time: jnats counts each
 * flush as an outstanding PING and drops the connection (to reconnect) when more than
 * {@code maxPingsOut} wait for their PONG. Thread-safe.
 */
final class CoreFlusher {

    private final Connection connection;
    private final Executor executor;
    private final Duration timeout;
    private final Object lock = new Object();
    /** Held while a PING of ours waits for its PONG. */
    private final ReentrantLock ping = new ReentrantLock();
    private CompletableFuture<Void> next;
    private boolean running;

    CoreFlusher(Connection connection, Executor executor, Duration timeout) {
        this.connection = connection;
        this.executor = executor;
        this.timeout = timeout;
    }

    /**
     * Completes after a flush that started after this call. One flush runs at a time: jnats
     * cancels concurrent flushes under load, and one round trip covers every caller anyway.
     */
    CompletableFuture<Void> flushed() {
        synchronized (lock) {
            if (next == null) {
                next = new CompletableFuture<>();
            }
            CompletableFuture<Void> batch = next;
            if (!running) {
                running = true;
                try {
                    executor.execute(this::flushLoop);
                } catch (RejectedExecutionException e) {
                    running = false;
                    next = null;
                    batch.completeExceptionally(e);
                }
            }
            return batch;
        }
    }

    /** How long one flush may take. */
    Duration timeout() {
        return timeout;
    }

    /**
     * Starts draining {@code dispatcher} (unsubscribe at the server, still receiving what it sent
     * before); its flush runs while no other flush of ours does.
     */
    CompletableFuture<Boolean> drain(Dispatcher dispatcher) throws InterruptedException {
        ping.lockInterruptibly();
        try {
            return dispatcher.drain(timeout);
        } finally {
            ping.unlock();
        }
    }

    /** Waits for {@link #flushed()}, for callers that may block (subscribe). */
    void flushAndWait() throws TimeoutException, InterruptedException {
        try {
            flushed().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof TimeoutException te) {
                throw te;
            }
            TimeoutException te = new TimeoutException("flush failed: " + c);
            te.initCause(c);
            throw te;
        }
    }

    private void flushLoop() {
        while (true) {
            CompletableFuture<Void> batch;
            synchronized (lock) {
                batch = next;
                next = null; // publishes from now on wait for the next round
                if (batch == null) {
                    running = false;
                    return;
                }
            }
            try {
                ping.lock();
                try {
                    connection.flush(timeout);
                } finally {
                    ping.unlock();
                }
                batch.complete(null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                batch.completeExceptionally(e);
                synchronized (lock) {
                    running = false;
                }
                return;
            } catch (Exception e) {
                batch.completeExceptionally(e);
            }
        }
    }
}
