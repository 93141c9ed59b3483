package dev.courier.mem;

import dev.courier.ConfigurationException;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A broker inside the JVM, one per name: every {@code mem://name} Courier in the JVM reaches the
 * same one while any of them is open. When the last one closes the broker and its messages are
 * discarded, unless the URL says {@code ?keep=true}. Thread-safe.
 */
final class MemoryBroker {

    private static final Map<String, MemoryBroker> BROKERS = new ConcurrentHashMap<>();

    private final String name;
    private final int retention;
    private final boolean keep;
    private final Map<String, MemoryTopic> topics = new ConcurrentHashMap<>();
    private final Map<String, MemoryRequests.Pending> pendingRequests = new ConcurrentHashMap<>();
    private int users;

    private MemoryBroker(String name, int retention, boolean keep) {
        this.name = name;
        this.retention = retention;
        this.keep = keep;
    }

    /**
     * The broker called {@code name}, created on first use; each acquire needs one {@link #release()}.
     * Options given explicitly ({@code retentionGiven}, {@code keepGiven}) must match those of a
     * broker of that name that is already running: they would otherwise be silently ignored.
     *
     * @throws ConfigurationException if they do not
     */
    static MemoryBroker acquire(String name, int retention, boolean retentionGiven, boolean keep, boolean keepGiven) {
        while (true) {
            MemoryBroker b = BROKERS.computeIfAbsent(name, n -> new MemoryBroker(n, retention, keep));
            synchronized (b) {
                if (b.users >= 0) {
                    if ((retentionGiven && b.retention != retention) || (keepGiven && b.keep != keep)) {
                        throw new ConfigurationException("the in-memory broker '" + name + "' is already running with retention="
                                + b.retention + " and keep=" + b.keep + ", which differ from the URL's or configuration's (retention="
                                + retention + ", keep=" + keep + "); use the same options for every connection to it, or another name");
                    }
                    b.users++;
                    return b;
                }
            }
            // lost a race with the last release: that broker is gone, make a new one
        }
    }

    void release() {
        synchronized (this) {
            if (--users > 0 || keep) {
                return;
            }
            users = -1;
        }
        BROKERS.remove(name, this);
        topics.clear();
    }

    String name() {
        return name;
    }

    MemoryTopic topic(String topic) {
        return topics.computeIfAbsent(topic, t -> new MemoryTopic(t, retention));
    }

    MemoryTopic existingTopic(String topic) {
        return topics.get(topic);
    }

    Map<String, MemoryRequests.Pending> pendingRequests() {
        return pendingRequests;
    }
}
