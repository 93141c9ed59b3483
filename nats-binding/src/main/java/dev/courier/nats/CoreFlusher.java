package dev.courier.nats;

import io.nats.client.Connection;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Completes core NATS publishes when the server has them: one flush (a PING/PONG round trip)
 * covers every publish made before it started, so a burst of publishes costs one round trip, not
 * one each. Thread-safe.
 */
final class CoreFlusher {

    private final Connection connection;
    private final Executor executor;
    private final Duration timeout;
    private final Object lock = new Object();
    private CompletableFuture<Void> next;

    CoreFlusher(Connection connection, Executor executor, Duration timeout) {
        this.connection = connection;
        this.executor = executor;
        this.timeout = timeout;
    }

    /** Completes after a flush that started after this call. */
    CompletableFuture<Void> flushed() {
        synchronized (lock) {
            if (next != null) {
                return next;
            }
            next = new CompletableFuture<>();
            CompletableFuture<Void> batch = next;
            try {
                executor.execute(this::flush);
            } catch (RejectedExecutionException e) {
                next = null;
                batch.completeExceptionally(e);
            }
            return batch;
        }
    }

    private void flush() {
        CompletableFuture<Void> batch;
        synchronized (lock) {
            batch = next;
            next = null; // publishes from now on wait for the next flush
        }
        if (batch == null) {
            return;
        }
        try {
            connection.flush(timeout);
            batch.complete(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            batch.completeExceptionally(e);
        } catch (Exception e) {
            batch.completeExceptionally(e);
        }
    }
}
