package dev.courier.mem;

import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.internal.HandlerExecutors;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One topic of the in-memory broker: a retained log plus the groups reading it. One lock per
 * topic guards the log, the groups and their members.
 *
 * <p>Retention and back-pressure: the log keeps at most {@code retention} messages. The oldest is
 * dropped to make room only once every group has taken it; while some group still lags by the
 * whole log, publishers wait (their stage stays incomplete) until that group consumes or the
 * publish timeout fails them. Such a publish completes on its Courier's handler executor, not on
 * the timer thread every {@code mem://} Courier of the JVM shares. A new group starts at the oldest retained message; a broadcast
 * subscription at the end of the log.
 */
final class MemoryTopic {

    static final ScheduledExecutorService TIMER = HandlerExecutors.scheduler();

    final String name;
    private final int retention;
    final Object lock = new Object();

    private Message[] log;
    private long base;     // offset of log[head]
    private int head;
    private int size;
    private final ArrayDeque<WaitingPublish> waitingPublishes = new ArrayDeque<>();
    private final Map<String, MemoryGroup> groups = new LinkedHashMap<>();

    MemoryTopic(String name, int retention) {
        this.name = name;
        this.retention = retention;
        this.log = new Message[Math.min(retention, 1024)];
    }

    private record WaitingPublish(Message message, CompletableFuture<Long> result, Executor completions) {
    }

    /**
     * Appends {@code m}; completes with its offset now, or later on {@code completions} (the
     * publishing Courier's handler executor) when there is room or the timeout has passed.
     */
    CompletableFuture<Long> publish(Message m, Duration timeout, Executor completions) {
        List<MemoryGroup> toPump;
        long offset;
        synchronized (lock) {
            if (!waitingPublishes.isEmpty() || !makeRoom()) {
                CompletableFuture<Long> later = new CompletableFuture<>();
                WaitingPublish w = new WaitingPublish(m, later, completions);
                waitingPublishes.add(w);
                TIMER.schedule(() -> expire(w, timeout), timeout.toMillis(), TimeUnit.MILLISECONDS);
                return later;
            }
            offset = append(m);
            toPump = activeGroups();
        }
        pump(toPump);
        return CompletableFuture.completedFuture(offset);
    }

    private void expire(WaitingPublish w, Duration timeout) {
        boolean removed;
        String laggard;
        synchronized (lock) {
            removed = waitingPublishes.remove(w);
            laggard = slowestGroupName();
        }
        if (removed) {
            PublishException full = new PublishException(name, "topic is full: " + retention
                    + " messages retained and group '" + laggard + "' has not consumed the oldest within "
                    + timeout.toMillis() + " ms; consume faster or raise the retention (mem://name?retention=N)", null, true);
            Runnable fail = () -> w.result.completeExceptionally(full);
            try {
                w.completions.execute(fail);
            } catch (RejectedExecutionException rejected) {
                fail.run(); // the Courier is closing
            }
        }
    }

    /** Under lock: true if one more message fits, dropping the oldest if every group has taken it. */
    private boolean makeRoom() {
        if (size < retention) {
            return true;
        }
        long oldest = base;
        for (MemoryGroup g : groups.values()) {
            if (g.nextOffset <= oldest) {
                return false;
            }
        }
        log[head] = null;
        head = (head + 1) % log.length;
        base++;
        size--;
        return true;
    }

    private long append(Message m) {
        if (size == log.length) {
            int cap = (int) Math.min((long) log.length * 2, retention);
            Message[] grown = new Message[cap];
            for (int i = 0; i < size; i++) {
                grown[i] = log[(head + i) % log.length];
            }
            log = grown;
            head = 0;
        }
        log[(head + size) % log.length] = m;
        size++;
        return base + size - 1;
    }

    /** Under lock: message at {@code offset}, or null if beyond the end. */
    Message at(long offset) {
        if (offset < base || offset >= base + size) {
            return null;
        }
        return log[(int) ((head + (offset - base)) % log.length)];
    }

    long endOffset() {
        return base + size;
    }

    long startOffset() {
        return base;
    }

    /** Under lock: after a group advanced or went away, publishes that waited for room may go in. */
    List<MemoryGroup> admitWaiting() {
        boolean any = false;
        while (!waitingPublishes.isEmpty() && makeRoom()) {
            WaitingPublish w = waitingPublishes.poll();
            long off = append(w.message);
            // outside the lock, and not on the timer thread shared by every mem:// Courier: the caller's code chained
            // onto the publish runs there and may block
            Runnable admitted = () -> w.result.complete(off);
            try {
                w.completions.execute(admitted);
            } catch (RejectedExecutionException rejected) {
                TIMER.execute(admitted); // the Courier is closing
            }
            any = true;
        }
        return any ? activeGroups() : List.of();
    }

    private String slowestGroupName() {
        MemoryGroup slowest = null;
        for (MemoryGroup g : groups.values()) {
            if (slowest == null || g.nextOffset < slowest.nextOffset) {
                slowest = g;
            }
        }
        return slowest == null ? "?" : slowest.displayName();
    }

    private List<MemoryGroup> activeGroups() {
        if (groups.isEmpty()) {
            return List.of();
        }
        List<MemoryGroup> out = new ArrayList<>(groups.size());
        for (MemoryGroup g : groups.values()) {
            if (g.hasMembers()) {
                out.add(g);
            }
        }
        return out;
    }

    static void pump(List<MemoryGroup> groups) {
        for (int i = 0; i < groups.size(); i++) {
            groups.get(i).pump();
        }
    }

    /** The group for {@code spec}, created at its start position if new. Broadcast specs get a private group. */
    MemoryGroup join(Subscribe spec, String broadcastId) {
        synchronized (lock) {
            String key = spec.group() != null ? spec.group() : broadcastId;
            MemoryGroup g = groups.get(key);
            if (g == null) {
                long start = startOffset(spec);
                g = new MemoryGroup(this, key, spec.group() == null, start);
                groups.put(key, g);
            }
            return g;
        }
    }

    /** Under lock: forgets a broadcast group once its only member left. */
    void removeGroup(MemoryGroup g) {
        groups.remove(g.key, g);
    }

    private long startOffset(Subscribe spec) {
        StartPosition p = spec.startFrom();
        return switch (p.kind()) {
            case EARLIEST -> base;
            case LATEST -> endOffset();
            case SEQUENCE -> Math.max(base, Math.min(p.sequence(), endOffset()));
            case TIME -> {
                long off = base;
                while (off < endOffset() && at(off).timestamp().isBefore(p.time())) {
                    off++;
                }
                yield off;
            }
            case DEFAULT -> spec.group() == null ? endOffset() : base;
        };
    }

    /** Under lock: whether any group has a member that could answer a request. */
    boolean hasActiveMembers() {
        for (MemoryGroup g : groups.values()) {
            if (g.hasMembers()) {
                return true;
            }
        }
        return false;
    }

    /** For diagnostics and tests: group key to its lag (messages not yet taken). */
    Map<String, Long> lags() {
        synchronized (lock) {
            Map<String, Long> out = new HashMap<>();
            for (Iterator<MemoryGroup> it = groups.values().iterator(); it.hasNext(); ) {
                MemoryGroup g = it.next();
                out.put(g.key, endOffset() - g.nextOffset);
            }
            return out;
        }
    }
}
