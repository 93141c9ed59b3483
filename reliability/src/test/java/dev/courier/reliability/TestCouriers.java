package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Interceptor;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/** Couriers of one test on a mem:// broker of its own, and whatever else it opens; closed in reverse order after the test. */
final class TestCouriers implements AutoCloseable {

    /** The test's broker URL and a topic name of its own. */
    final String broker;
    final String topic;
    private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

    TestCouriers(String name) {
        this.broker = "mem://" + name + "-" + UUID.randomUUID();
        this.topic = name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A Courier on the test's broker with {@code listener} and {@code interceptors}. */
    Courier connect(CourierListener listener, Interceptor... interceptors) {
        return connect(Map.of(), listener, interceptors);
    }

    /** As {@link #connect(CourierListener, Interceptor...)}, with the configuration keys of {@code settings} (e.g. {@code courier.close.timeout}). */
    Courier connect(Map<String, String> settings, CourierListener listener, Interceptor... interceptors) {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url(broker).setAll(settings).build();
        Courier.Builder b = Courier.builder().config(config).listener(listener);
        for (Interceptor i : interceptors) {
            b.interceptor(i);
        }
        return add(b.connect());
    }

    /** Closes {@code c} after the test. */
    <T extends AutoCloseable> T add(T c) {
        open.add(c);
        return c;
    }

    @Override
    public void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }
}
