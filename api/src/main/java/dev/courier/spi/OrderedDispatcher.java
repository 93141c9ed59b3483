package dev.courier.spi;

import dev.courier.Ordering;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Runs items with bounded concurrency and, with {@link Ordering#BY_KEY}, one at a time per key in
 * submission order. For bindings whose broker hands over a stream of messages (RabbitMQ, NATS,
 * in-memory); the Kafka binding uses the offset-commit coordinator instead.
 *
 * <p>A concurrency permit is taken when an item starts running, never by an item waiting behind
 * its key, so a few hot keys cannot starve the others. Items without a key are not ordered. When
 * an item finishes synchronously the same thread runs the next ready item (up to a small batch),
 * which avoids a thread hand-off per message.
 *
 * <p>{@link #dispatch} never blocks; the binding bounds what it feeds in (prefetch, max in
 * flight) and can read {@link #pending()}. {@link #close()} stops accepting items and returns the
 * ones that never started so the binding can give them back to the broker. Thread-safe.
 *
 * @param <T> the binding's item type
 */
public final class OrderedDispatcher<T> {

    private static final int BATCH = 64;

    private final Executor executor;
    private final int concurrency;
    private final boolean byKey;
    private final Function<T, CompletionStage<?>> runner;

    private final Object lock = new Object();
    private final ArrayDeque<Object[]> ready = new ArrayDeque<>();
    /** Keys with an item running; the queue holds the items waiting behind it (null until a second one arrives). */
    private final Map<String, ArrayDeque<T>> busyKeys = new HashMap<>();
    private int running;
    private int pending;
    private boolean closed;
    private CompletableFuture<Void> idle;

    /**
     * @param executor    runs items; never the broker client's I/O thread
     * @param concurrency maximum items running at once, at least 1
     * @param ordering    {@link Ordering#BY_KEY} to serialise items of one key
     * @param runner      runs one item; the returned stage completing (either way) frees its permit and key
     */
    public OrderedDispatcher(Executor executor, int concurrency, Ordering ordering, Function<T, CompletionStage<?>> runner) {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be >= 1, was " + concurrency);
        }
        this.executor = executor;
        this.concurrency = concurrency;
        this.byKey = ordering == Ordering.BY_KEY;
        this.runner = runner;
    }

    /**
     * Runs {@code item} when a permit and its key are free. Returns {@code false}, without taking
     * the item, once the dispatcher is closed.
     */
    public boolean dispatch(String key, T item) {
        synchronized (lock) {
            if (closed) {
                return false;
            }
            pending++;
            if (byKey && key != null) {
                if (busyKeys.containsKey(key)) {
                    ArrayDeque<T> behind = busyKeys.get(key);
                    if (behind == null) {
                        behind = new ArrayDeque<>(4);
                        busyKeys.put(key, behind);
                    }
                    behind.add(item);
                    return true;
                }
                busyKeys.put(key, null);
            }
            if (running >= concurrency) {
                ready.add(new Object[] {key, item});
                return true;
            }
            running++;
        }
        start(key, item);
        return true;
    }

    private void start(String key, T item) {
        try {
            executor.execute(() -> runFrom(key, item));
        } catch (RuntimeException rejected) {
            // the executor is shutting down: the item goes back to the head of the ready queue,
            // still owning its key, so close() hands it back to the binding instead of losing it
            CompletableFuture<Void> becameIdle = null;
            synchronized (lock) {
                ready.addFirst(new Object[] {key, item});
                running--;
                if (running == 0 && idle != null && closed) {
                    becameIdle = idle;
                    idle = null;
                }
            }
            if (becameIdle != null) {
                becameIdle.complete(null);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void runFrom(String firstKey, T firstItem) {
        String key = firstKey;
        T item = firstItem;
        for (int n = 0; ; n++) {
            CompletionStage<?> stage = runSafely(item);
            CompletableFuture<?> f = stage.toCompletableFuture();
            if (!f.isDone()) {
                String k = key;
                f.whenComplete((r, e) -> {
                    Object[] next = finished(k);
                    if (next != null) {
                        start((String) next[0], (T) next[1]);
                    }
                });
                return;
            }
            Object[] next = finished(key);
            if (next == null) {
                return;
            }
            if (n >= BATCH) {
                start((String) next[0], (T) next[1]);
                return;
            }
            key = (String) next[0];
            item = (T) next[1];
        }
    }

    private CompletionStage<?> runSafely(T item) {
        try {
            CompletionStage<?> s = runner.apply(item);
            return s != null ? s : CompletableFuture.completedFuture(null);
        } catch (RuntimeException | Error e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Frees {@code key}; returns the next item to run with the freed permit, or null. */
    private Object[] finished(String key) {
        CompletableFuture<Void> becameIdle = null;
        Object[] next;
        synchronized (lock) {
            pending--;
            if (byKey && key != null) {
                ArrayDeque<T> behind = busyKeys.get(key);
                T following = behind == null ? null : behind.poll();
                if (following == null) {
                    busyKeys.remove(key);
                } else {
                    // the key stays busy; its next item joins the ready queue behind others already waiting
                    ready.add(new Object[] {key, following});
                }
            }
            next = ready.poll();
            if (next == null) {
                running--;
                if (running == 0 && idle != null && (closed || pending == 0)) {
                    becameIdle = idle;
                    idle = null;
                }
            }
        }
        if (becameIdle != null) {
            becameIdle.complete(null);
        }
        return next;
    }

    /** Items accepted and not finished: running, ready, or waiting behind their key. */
    public int pending() {
        synchronized (lock) {
            return pending;
        }
    }

    /** Items running now. */
    public int running() {
        synchronized (lock) {
            return running;
        }
    }

    /**
     * Stops accepting items and returns, in submission order per key, those that never started.
     * Running items go on; {@link #whenIdle()} tells when they finished.
     */
    public List<T> close() {
        List<T> notStarted = new ArrayList<>();
        synchronized (lock) {
            closed = true;
            for (Object[] r : ready) {
                @SuppressWarnings("unchecked")
                T t = (T) r[1];
                notStarted.add(t);
            }
            ready.clear();
            for (ArrayDeque<T> behind : busyKeys.values()) {
                if (behind != null) {
                    notStarted.addAll(behind);
                    behind.clear();
                }
            }
            pending -= notStarted.size();
        }
        return notStarted;
    }

    /** Completes when no item is running (after {@link #close()}) or nothing is pending. */
    public CompletionStage<Void> whenIdle() {
        synchronized (lock) {
            if (running == 0) {
                return CompletableFuture.completedFuture(null);
            }
            if (idle == null) {
                idle = new CompletableFuture<>();
            }
            return idle;
        }
    }

    public boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }
}
