package dev.courier.mem;

import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One member of a group. Deliveries assigned to it are run by at most {@code concurrency} loops on
 * the handler executor; a loop keeps taking the member's next delivery, so a busy subscription
 * needs no thread hand-off per message. State is guarded by the topic's lock.
 */
final class MemorySubscription implements BindingSubscription {

    private static final Logger log = LoggerFactory.getLogger(MemorySubscription.class);

    final MemoryGroup group;
    private final Object lock;
    private final DeliveryProcessor processor;
    private final Executor executor;
    private final int concurrency;
    final int maxInFlight;
    /** Whether this member runs one message of a key at a time ({@link Ordering#BY_KEY}). */
    final boolean byKey;

    private final ArrayDeque<MemoryDelivery> queue = new ArrayDeque<>();
    private final Set<MemoryDelivery> outstanding = Collections.newSetFromMap(new IdentityHashMap<>());
    private int assigned;
    private int loops;
    /** Loops inside a handler right now; a loop that is busy cannot take the next queued delivery. */
    private int busy;
    private boolean paused;
    boolean closing;
    private final CompletableFuture<Void> drained = new CompletableFuture<>();

    MemorySubscription(MemoryGroup group, Subscribe spec, DeliveryProcessor processor, Executor executor) {
        this.group = group;
        this.lock = group.topic.lock;
        this.processor = processor;
        this.executor = executor;
        this.concurrency = spec.concurrency();
        this.maxInFlight = spec.maxInFlight();
        this.byKey = spec.ordering() == Ordering.BY_KEY;
    }

    /** Under lock. */
    boolean hasPermit() {
        return !paused && !closing && assigned < concurrency;
    }

    /** Under lock: queues a delivery of {@code e}; true if a new loop must be started. */
    boolean assign(MemoryGroup.Entry e) {
        MemoryDelivery d = new MemoryDelivery(e, this);
        e.current = d;
        queue.add(d);
        outstanding.add(d);
        assigned++;
        if (loops < concurrency && loops - busy < queue.size()) {
            loops++;
            return true;
        }
        return false;
    }

    void startLoop() {
        try {
            executor.execute(this::loop);
        } catch (RejectedExecutionException e) {
            synchronized (lock) {
                loops--;
            }
            log.warn("handler executor refused work for '{}' (Courier closing?); deliveries stay with the group", group.topic.name);
        }
    }

    private void loop() {
        boolean wasBusy = false;
        while (true) {
            MemoryDelivery d;
            synchronized (lock) {
                if (wasBusy) {
                    busy--;
                }
                d = queue.poll();
                if (d == null) {
                    loops--;
                    return;
                }
                busy++;
                wasBusy = true;
            }
            try {
                processor.process(d);
            } catch (Throwable e) {
                // whatever it was, the loop must go on: a dead loop would keep its permit and stall the member
                log.error("delivery processor failed on '{}'; the message will be redelivered when the subscription closes",
                        group.topic.name, e);
            }
        }
    }

    /** Under lock: {@code d} was settled. */
    void released(MemoryDelivery d) {
        if (outstanding.remove(d)) {
            assigned--;
        }
        if (closing && assigned == 0) {
            MemoryTopic.TIMER.execute(() -> drained.complete(null));
        }
    }

    /** Under lock: removes and returns deliveries not started yet. */
    List<MemoryDelivery> drainQueued() {
        List<MemoryDelivery> out = new ArrayList<>(queue);
        for (MemoryDelivery d : out) {
            outstanding.remove(d);
            assigned--;
        }
        queue.clear();
        return out;
    }

    @Override
    public void pause() {
        synchronized (lock) {
            paused = true;
        }
    }

    @Override
    public void resume() {
        synchronized (lock) {
            paused = false;
        }
        group.pump();
    }

    @Override
    public CompletionStage<Void> close(Duration drainTimeout) {
        List<MemoryGroup> admitted;
        synchronized (lock) {
            if (closing) {
                return drained;
            }
            closing = true;
            admitted = group.removeMember(this);
            if (assigned == 0) {
                drained.complete(null);
            }
        }
        group.pump();
        MemoryTopic.pump(admitted);
        if (!drained.isDone()) {
            MemoryTopic.TIMER.schedule(this::giveUp, drainTimeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        return drained;
    }

    /** After the drain timeout: deliveries still running go back to the group for redelivery. */
    private void giveUp() {
        int revoked;
        synchronized (lock) {
            if (drained.isDone()) {
                return;
            }
            List<MemoryDelivery> running = new ArrayList<>(outstanding);
            revoked = running.size();
            group.revoke(running);
            outstanding.clear();
            assigned = 0;
        }
        log.warn("{} handler(s) on '{}' did not finish within the drain timeout; their messages will be redelivered",
                revoked, group.topic.name);
        group.pump();
        drained.complete(null);
    }
}
