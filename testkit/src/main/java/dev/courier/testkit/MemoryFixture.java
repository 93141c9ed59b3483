package dev.courier.testkit;

import java.util.Map;
import java.util.UUID;

/**
 * The in-memory broker: {@code mem://contract-<uuid>}, a broker of its own that lives while a
 * Courier uses it. Nothing to start or stop.
 */
public final class MemoryFixture implements BrokerFixture {

    private final String url;
    private final Map<String, String> config;

    /** A fresh, uniquely named in-memory broker. */
    public MemoryFixture() {
        this(Map.of());
    }

    /** A fresh in-memory broker with extra Courier settings. */
    public MemoryFixture(Map<String, String> config) {
        this.url = "mem://contract-" + UUID.randomUUID();
        this.config = Map.copyOf(config);
    }

    @Override
    public String name() {
        return "mem";
    }

    @Override
    public String url() {
        return url;
    }

    @Override
    public Map<String, String> config() {
        return config;
    }

    @Override
    public String toString() {
        return "MemoryFixture{" + url + '}';
    }
}
