package dev.courier.testkit;

import dev.courier.CourierConfig;

import java.time.Duration;
import java.util.Map;

/**
 * A broker the contract suite runs against: where it is ({@link #url()}), extra Courier settings
 * for it ({@link #config()}), and hooks around each case. A binding's contract test returns one
 * from {@link CourierContractSuite#fixture()}; {@link MemoryFixture} and {@link BrokerLocator}
 * provide the usual ones.
 *
 * <p>Implementations must be thread-safe: cases may run in parallel. {@link #close()} releases
 * what the fixture started (a container, an embedded broker); it is not called by the suite, whose
 * subclass owns the fixture's lifetime (typically a static field closed in {@code @AfterAll}).
 */
public interface BrokerFixture extends AutoCloseable {

    /** A short name for messages and reports, e.g. {@code mem} or {@code rabbitmq (loopback)}. */
    String name();

    /** The broker URL, e.g. {@code amqp://guest:guest@127.0.0.1:5672/}. */
    String url();

    /** Extra Courier settings for this broker (binding keys such as {@code courier.kafka.*}). */
    default Map<String, String> config() {
        return Map.of();
    }

    /** How long a case waits for an expected state before failing; raise it for slow brokers. */
    default Duration awaitTimeout() {
        return Await.DEFAULT_TIMEOUT;
    }

    /** Called before each case with its unique id (the prefix of its topic names). */
    default void beforeCase(String caseId) {
    }

    /** Called after each case, after its connections were closed. */
    default void afterCase(String caseId) {
    }

    /** The configuration a case connects with: {@link #url()} and {@link #config()}, ignoring the environment. */
    default CourierConfig courierConfig() {
        return CourierConfig.builder().withoutEnvironment().setAll(config()).url(url()).build();
    }

    /** A fixture for a broker someone else runs: nothing to start or stop. */
    static BrokerFixture of(String name, String url) {
        return new BrokerLocator.Located(name, url, Map.of(), () -> { });
    }

    /** Stops what this fixture started. The default does nothing. */
    @Override
    default void close() {
    }
}
