package dev.courier.testkit;

import dev.courier.testkit.kafka.EmbeddedKafka;

/**
 * Starts the testkit's embedded Kafka for {@link BrokerLocator#kafka()}. Kept apart because Kafka's
 * jars are optional dependencies of the testkit: nothing loads this class before the locator has
 * checked that they are on the classpath.
 */
final class EmbeddedKafkaStarter {

    private EmbeddedKafkaStarter() {
    }

    static boolean available() {
        ClassLoader cl = BrokerLocator.class.getClassLoader();
        try {
            Class.forName("kafka.Kafka", false, cl);
            Class.forName("org.apache.kafka.clients.admin.Admin", false, cl);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** The JVM-wide embedded broker; it stops itself when the JVM exits. */
    static BrokerFixture shared() {
        return BrokerFixture.of("kafka (embedded)", EmbeddedKafka.shared().url());
    }
}
