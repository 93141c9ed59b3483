package dev.courier.nats;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Bounds the JetStream publishes awaiting their PubAck without blocking publishers: a publish
 * takes a slot and is sent at once, or waits in a FIFO queue until an earlier one is confirmed and
 * until its stream is known. Queued publishes are sent by one thread at a time, in order, so one
 * thread's publishes reach the server in the order it made them. Thread-safe.
 */
final class PublishWindow {

    /** One publish: when it may go ({@code ready}), how to send it, and the stage to complete. */
    static final class Item<T> {
        final CompletableFuture<?> ready;
        final Supplier<CompletableFuture<T>> send;
        final CompletableFuture<T> result = new CompletableFuture<>();

        Item(CompletableFuture<?> ready, Supplier<CompletableFuture<T>> send) {
            this.ready = ready;
            this.send = send;
        }
    }

    private final int max;
    private final Object lock = new Object();
    private final ArrayDeque<Item<?>> queue = new ArrayDeque<>();
    private int outstanding;
    private boolean draining;

    PublishWindow(int max) {
        this.max = max;
    }

    <T> CompletableFuture<T> submit(CompletableFuture<?> ready, Supplier<CompletableFuture<T>> send) {
        Item<T> item = new Item<>(ready, send);
        boolean now;
        synchronized (lock) {
            now = queue.isEmpty() && !draining && outstanding < max && ready.isDone() && !ready.isCompletedExceptionally();
            if (now) {
                outstanding++;
            } else {
                queue.add(item);
            }
        }
        if (now) {
            send(item);
        } else if (!ready.isDone()) {
            ready.whenComplete((r, e) -> drain());
        } else {
            drain();
        }
        return item.result;
    }

    /** Publishes awaiting their confirm plus those queued. */
    int pending() {
        synchronized (lock) {
            return outstanding + queue.size();
        }
    }

    private <T> void send(Item<T> item) {
        CompletableFuture<T> sent;
        try {
            sent = item.send.get();
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        sent.whenComplete((r, e) -> {
            synchronized (lock) {
                outstanding--;
            }
            if (e != null) {
                item.result.completeExceptionally(e);
            } else {
                item.result.complete(r);
            }
            drain();
        });
    }

    private void drain() {
        while (true) {
            Item<?> next;
            Item<?> failed = null;
            synchronized (lock) {
                if (draining || queue.isEmpty()) {
                    return;
                }
                Item<?> head = queue.peek();
                if (!head.ready.isDone()) {
                    return; // its readiness callback drains again
                }
                if (head.ready.isCompletedExceptionally()) {
                    failed = queue.poll();
                    next = null;
                } else if (outstanding >= max) {
                    return; // a confirm drains again
                } else {
                    next = queue.poll();
                    outstanding++;
                    draining = true;
                }
            }
            if (failed != null) {
                // the stream could not be found or created: the publish fails with that reason
                failed.result.completeExceptionally(failed.ready.handle((r, e) -> e).join());
                continue;
            }
            try {
                send(next);
            } finally {
                synchronized (lock) {
                    draining = false;
                }
            }
        }
    }
}
