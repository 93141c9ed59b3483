package dev.courier.testkit;

import dev.courier.BrokerUnavailableException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BrokerLocatorTest {

    private static ServerSocket listening;

    @BeforeAll
    static void listen() throws IOException {
        listening = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    }

    @AfterAll
    static void stop() throws IOException {
        listening.close();
    }

    /** A loopback port nothing listens on. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static BrokerLocator rabbit(Map<String, String> env) {
        return BrokerLocator.rabbitmq().environment(env).systemProperties(new Properties()).withoutContainers();
    }

    @Test
    void aConfiguredUrlThatDoesNotAnswerFailsWithHowToStartTheBroker() throws IOException {
        int port = closedPort();
        Map<String, String> env = Map.of("COURIER_TEST_RABBITMQ_URL", "amqp://guest:secret@127.0.0.1:" + port + "/");

        assertThatThrownBy(() -> rabbit(env).locate())
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageStartingWith("RabbitMQ is not reachable at amqp://guest:****@127.0.0.1:" + port + "/ (from COURIER_TEST_RABBITMQ_URL")
                .hasMessageContaining("start it with scripts/brokers.sh start rabbitmq or `rabbitmq-server -detached`")
                .hasMessageContaining("or point COURIER_TEST_RABBITMQ_URL at a running broker")
                .hasMessageNotContaining("secret");
    }

    @Test
    void aConfiguredUrlThatAnswersIsUsedAsGiven() {
        String url = "amqp://guest:guest@127.0.0.1:" + listening.getLocalPort() + "/";
        BrokerFixture f = rabbit(Map.of("COURIER_TEST_RABBITMQ_URL", url)).locate();
        assertThat(f.url()).isEqualTo(url);
        assertThat(f.name()).isEqualTo("rabbitmq (COURIER_TEST_RABBITMQ_URL)");
    }

    @Test
    void theSystemPropertyWinsOverTheEnvironment() throws IOException {
        Properties props = new Properties();
        String url = "nats://127.0.0.1:" + listening.getLocalPort();
        props.setProperty("courier.test.nats.url", url);
        BrokerFixture f = BrokerLocator.nats().withoutContainers().systemProperties(props)
                .environment(Map.of("COURIER_TEST_NATS_URL", "nats://127.0.0.1:" + closedPort())).locate();
        assertThat(f.url()).isEqualTo(url);
    }

    @Test
    void withNothingReachableTheFailureSaysWhatToStart() throws IOException {
        int port = closedPort();
        BrokerLocator locator = new BrokerLocator("rabbitmq", "RabbitMQ", "amqp://guest:guest@127.0.0.1:" + port + "/",
                "scripts/brokers.sh or `rabbitmq-server -detached`")
                .environment(Map.of()).systemProperties(new Properties()).withoutContainers();

        assertThatThrownBy(locator::locate)
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageStartingWith("RabbitMQ is not reachable on 127.0.0.1:" + port
                        + "; start it with scripts/brokers.sh or `rabbitmq-server -detached`, or set COURIER_TEST_RABBITMQ_URL")
                .hasMessageContaining("tried: COURIER_TEST_RABBITMQ_URL and courier.test.rabbitmq.url are not set");
    }

    @Test
    void theLoopbackPortIsUsedWhenItAnswers() {
        String url = "nats://127.0.0.1:" + listening.getLocalPort();
        BrokerFixture f = new BrokerLocator("nats", "NATS", url, "`nats-server -js`")
                .environment(Map.of()).systemProperties(new Properties()).locate();
        assertThat(f.url()).isEqualTo(url);
        assertThat(f.name()).isEqualTo("nats (loopback)");
    }

    @Test
    void anEmbeddedStarterIsTheLastResort() throws IOException {
        MemoryFixture embedded = new MemoryFixture();
        BrokerFixture f = new BrokerLocator("kafka", "Kafka", "kafka://127.0.0.1:" + closedPort(), "scripts/brokers.sh")
                .environment(Map.of()).systemProperties(new Properties()).embedded(() -> embedded).locate();
        assertThat(f).isSameAs(embedded);
    }

    @Test
    void aFailingEmbeddedStarterIsReportedInTheFailure() throws IOException {
        int port = closedPort();
        BrokerLocator locator = new BrokerLocator("kafka", "Kafka", "kafka://127.0.0.1:" + port, "scripts/brokers.sh")
                .environment(Map.of()).systemProperties(new Properties())
                .embedded(() -> {
                    throw new IllegalStateException("no Kafka jars");
                });
        assertThatThrownBy(locator::locate)
                .hasMessageStartingWith("Kafka is not reachable on 127.0.0.1:" + port + "; start it with scripts/brokers.sh, or set COURIER_TEST_KAFKA_URL")
                .hasMessageContaining("embedded Kafka: java.lang.IllegalStateException: no Kafka jars");
    }

    @Test
    void theLocatorsSettingsAreAddedToAnEmbeddedBroker() throws IOException {
        BrokerFixture f = new BrokerLocator("kafka", "Kafka", "kafka://127.0.0.1:" + closedPort(), "scripts/kafka.sh start")
                .environment(Map.of()).systemProperties(new Properties())
                .config(Map.of("courier.kafka.topic.partitions", "6", "courier.publish.timeout", "5s"))
                .embedded(() -> new MemoryFixture(Map.of("courier.publish.timeout", "9s"))).locate();
        assertThat(f.config()).containsEntry("courier.kafka.topic.partitions", "6").containsEntry("courier.publish.timeout", "9s");
        assertThat(f.url()).startsWith("mem://contract-");
    }

    @Test
    void namesTheVariables() {
        assertThat(BrokerLocator.kafka().environmentVariable()).isEqualTo("COURIER_TEST_KAFKA_URL");
        assertThat(BrokerLocator.kafka().systemProperty()).isEqualTo("courier.test.kafka.url");
    }
}
