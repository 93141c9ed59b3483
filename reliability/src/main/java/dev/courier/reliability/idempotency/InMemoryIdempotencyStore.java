package dev.courier.reliability.idempotency;

import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * An {@link IdempotencyStore} in this JVM's memory: for one consumer process, for tests, or in
 * front of nothing at all. It forgets everything when the process ends, and different processes do
 * not see each other's keys; use a shared store (JDBC, Redis) for a group spread over machines.
 *
 * <p>Bounded: at most {@code maxEntries} keys. Expired keys (done past their retention, claims past
 * their lease) count as absent and are evicted as they are met, oldest writes first; when the store
 * is full the key written longest ago is forgotten, so a very old duplicate may be processed again.
 * Every call is O(1). Thread-safe (one lock; calls never block on anything else).
 */
public final class InMemoryIdempotencyStore implements IdempotencyStore {

    /** Longest key accepted, as in the shared stores: {@value} characters. */
    public static final int MAX_KEY_LENGTH = 512;
    /** Longest owner token accepted: {@value} characters. */
    public static final int MAX_OWNER_LENGTH = 200;
    /** Default bound: {@value} keys. */
    public static final int DEFAULT_MAX_ENTRIES = 100_000;
    /** Expired eldest entries removed per call, so eviction keeps up without long pauses. */
    private static final int SWEEP_PER_CALL = 4;

    private final int maxEntries;
    private final Clock clock;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    private record Entry(boolean done, String owner, long expiresAtMillis) {
        boolean expired(long now) {
            return now >= expiresAtMillis;
        }
    }

    /** A store of at most {@value #DEFAULT_MAX_ENTRIES} keys. */
    public InMemoryIdempotencyStore() {
        this(DEFAULT_MAX_ENTRIES);
    }

    /**
     * A store of at most {@code maxEntries} keys.
     *
     * @throws IllegalArgumentException if {@code maxEntries} is below 1
     */
    public InMemoryIdempotencyStore(int maxEntries) {
        this(maxEntries, Clock.systemUTC());
    }

    /** A store that reads time from {@code clock} (for tests). */
    public InMemoryIdempotencyStore(int maxEntries, Clock clock) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be 1 or more, was " + maxEntries);
        }
        this.maxEntries = maxEntries;
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public Claim claim(String key, String owner, Duration lease) {
        long leaseMillis = check(key, owner, "lease", lease);
        synchronized (entries) {
            long now = clock.millis();
            sweep(now);
            Entry e = entries.get(key);
            if (e != null && !e.expired(now)) {
                if (e.done()) {
                    return Claim.DONE;
                }
                if (!e.owner().equals(owner)) {
                    return Claim.IN_PROGRESS;
                }
            }
            put(key, new Entry(false, owner, plus(now, leaseMillis)));
            return Claim.ACQUIRED;
        }
    }

    @Override
    public boolean complete(String key, String owner, Duration retention) {
        long retentionMillis = check(key, owner, "retention", retention);
        synchronized (entries) {
            long now = clock.millis();
            Entry e = entries.get(key);
            // the entry must still be the owner's: after a release, an eviction, or another owner's
            // claim of the expired lease, the work may have run twice and the caller has to know
            if (e == null || !e.owner().equals(owner)) {
                return false;
            }
            put(key, new Entry(true, owner, plus(now, retentionMillis)));
            return true;
        }
    }

    @Override
    public void release(String key, String owner) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        synchronized (entries) {
            Entry e = entries.get(key);
            if (e != null && !e.done() && e.owner().equals(owner)) {
                entries.remove(key);
            }
        }
    }

    /** Keys held now, expired ones not yet evicted included. */
    public int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    /** The bound given at construction. */
    public int maxEntries() {
        return maxEntries;
    }

    private void put(String key, Entry e) {
        entries.remove(key); // re-insert: the map's order is the order of last writes
        entries.put(key, e);
        while (entries.size() > maxEntries) {
            Iterator<String> eldest = entries.keySet().iterator();
            eldest.next();
            eldest.remove();
        }
    }

    private void sweep(long now) {
        Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
        for (int i = 0; i < SWEEP_PER_CALL && it.hasNext(); i++) {
            if (it.next().getValue().expired(now)) {
                it.remove();
            } else {
                return;
            }
        }
    }

    private static long plus(long now, long millis) {
        try {
            return Math.addExact(now, millis);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The same argument checks, with the same words, as the shared stores; returns {@code d} in milliseconds. */
    private static long check(String key, String owner, String what, Duration d) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        return StoreArguments.millis(what, d);
    }

    @Override
    public String toString() {
        return "InMemoryIdempotencyStore{max=" + maxEntries + '}';
    }
}
