package dev.courier.mem;

import dev.courier.Message;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A group's view of a topic: its cursor, the messages it has taken and not settled, and its
 * members. All state is guarded by the topic's lock.
 *
 * <p>Scheduling: a member with a free concurrency permit gets the next ready message. Ordering is
 * the member's, as in a real broker's client, where each subscription's dispatcher orders what it
 * receives: a message going to a member that orders by key claims its key, and one whose key is
 * owned by an unsettled message (running, or waiting for its redelivery delay) waits behind it
 * without taking a permit, so one slow key never blocks the others. A message going to an
 * unordered member claims no key (its key is not even read). The group takes messages from the log only while what it holds is below the sum of its
 * members' max in-flight, which bounds memory and makes publishers wait when a group lags by the
 * whole retention.
 */
final class MemoryGroup {

    final MemoryTopic topic;
    final String key;
    final boolean broadcast;
    long nextOffset;

    private final List<MemorySubscription> members = new ArrayList<>(2);
    private final ArrayDeque<Entry> ready = new ArrayDeque<>();
    /** Keys owned by an unsettled entry, with the entries waiting behind it (null until one waits). */
    private final Map<String, ArrayDeque<Entry>> ownedKeys = new HashMap<>();
    private int taken;
    private int roundRobin;

    MemoryGroup(MemoryTopic topic, String key, boolean broadcast, long startOffset) {
        this.topic = topic;
        this.key = key;
        this.broadcast = broadcast;
        this.nextOffset = startOffset;
    }

    /** A message taken by the group, possibly delivered several times. */
    static final class Entry {
        final Message message;
        final long offset;
        /** The key this entry owns until settled; null while no member ordering by key has taken it. */
        String orderKey;
        int attempt = 1;
        MemoryDelivery current;

        Entry(Message message, long offset) {
            this.message = message;
            this.offset = offset;
        }
    }

    String displayName() {
        return broadcast ? "<broadcast>" : key;
    }

    boolean hasMembers() {
        return !members.isEmpty();
    }

    /** Under lock. */
    void addMember(MemorySubscription m) {
        members.add(m);
    }

    /**
     * Under lock: removes {@code m}, returning its queued deliveries to the front of the ready queue.
     * A broadcast group goes with its last member; as it may have been the group holding the topic
     * back, publishes waiting for room can go in now: pump the groups returned, without the lock.
     */
    List<MemoryGroup> removeMember(MemorySubscription m) {
        members.remove(m);
        List<MemoryDelivery> queued = m.drainQueued();
        for (int i = queued.size() - 1; i >= 0; i--) {
            MemoryDelivery d = queued.get(i);
            d.entry.current = null;
            ready.addFirst(d.entry);
        }
        if (broadcast && members.isEmpty()) {
            topic.removeGroup(this);
            return topic.admitWaiting();
        }
        return List.of();
    }

    /**
     * Under lock: takes back deliveries a closing member could not finish in time. Their handlers
     * started, so the next delivery is a redelivery with the attempt one higher (a message that
     * hangs its handler counts toward max attempts); deliveries never started go back through
     * {@link #removeMember} with their attempt unchanged.
     */
    void revoke(List<MemoryDelivery> running) {
        for (MemoryDelivery d : running) {
            if (d.entry.current == d) {
                d.entry.current = null;
                d.entry.attempt++;
                ready.addFirst(d.entry);
            }
        }
    }

    /** Hands ready and new messages to members with free permits. Call without holding the lock. */
    void pump() {
        List<MemorySubscription> toStart = null;
        List<MemoryGroup> admitted = List.of();
        synchronized (topic.lock) {
            long before = nextOffset;
            while (true) {
                MemorySubscription m = memberWithPermit();
                if (m == null) {
                    break;
                }
                Entry e = ready.poll();
                if (e == null) {
                    if (taken >= capacity()) {
                        break;
                    }
                    Message msg = topic.at(nextOffset);
                    if (msg == null) {
                        break;
                    }
                    e = new Entry(msg, nextOffset);
                    nextOffset++;
                    taken++;
                }
                // the key is claimed when a member ordering by key takes the entry, also one an unordered member gave back
                if (m.byKey && e.orderKey == null && e.message.key() != null) {
                    e.orderKey = e.message.key();
                    if (ownedKeys.containsKey(e.orderKey)) {
                        ownedKeys.computeIfAbsent(e.orderKey, k -> new ArrayDeque<>(4)).add(e);
                        continue;
                    }
                    ownedKeys.put(e.orderKey, null);
                }
                if (m.assign(e)) {
                    if (toStart == null) {
                        toStart = new ArrayList<>(2);
                    }
                    toStart.add(m);
                }
            }
            if (nextOffset != before) {
                admitted = topic.admitWaiting();
            }
        }
        if (toStart != null) {
            for (MemorySubscription m : toStart) {
                m.startLoop();
            }
        }
        MemoryTopic.pump(admitted);
    }

    private int capacity() {
        int c = 0;
        for (int i = 0; i < members.size(); i++) {
            MemorySubscription m = members.get(i);
            if (!m.closing) {
                c += m.maxInFlight;
            }
        }
        return c;
    }

    private MemorySubscription memberWithPermit() {
        int n = members.size();
        for (int i = 0; i < n; i++) {
            MemorySubscription m = members.get((roundRobin + i) % n);
            if (m.hasPermit()) {
                roundRobin = (roundRobin + i + 1) % n;
                return m;
            }
        }
        return null;
    }

    /** Settles {@code d}: ack/reject drop it, nack schedules its redelivery. Stale deliveries are ignored. */
    void settle(MemoryDelivery d, Duration redeliverAfter) {
        synchronized (topic.lock) {
            Entry e = d.entry;
            if (e.current != d) {
                return;
            }
            e.current = null;
            d.member.released(d);
            if (redeliverAfter == null) {
                taken--;
                releaseKey(e);
            } else {
                e.attempt++;
                if (redeliverAfter.isZero()) {
                    ready.add(e);
                } else {
                    // the entry keeps its key while it waits, so later messages of the key stay behind it
                    MemoryTopic.TIMER.schedule(() -> {
                        synchronized (topic.lock) {
                            ready.add(e);
                        }
                        pump();
                    }, TimeUnit.NANOSECONDS.convert(redeliverAfter), TimeUnit.NANOSECONDS); // saturates rather than overflowing
                }
            }
        }
        pump();
    }

    private void releaseKey(Entry e) {
        if (e.orderKey == null) {
            return;
        }
        ArrayDeque<Entry> behind = ownedKeys.get(e.orderKey);
        Entry next = behind == null ? null : behind.poll();
        if (next == null) {
            ownedKeys.remove(e.orderKey);
        } else {
            ready.add(next);
        }
    }
}
