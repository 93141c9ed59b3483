package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.testkit.kafka.EmbeddedKafka;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Properties;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A courier.kafka key the binding does not read fails the connect, before any broker is contacted; client properties pass. */
class KafkaKeysTest {

    /** Nothing listens here: a connect that got as far as the broker would fail differently. */
    private static final String NOWHERE = "kafka://127.0.0.1:1";

    private static CourierConfig.Builder config() {
        return CourierConfig.builder().withoutEnvironment().url(NOWHERE).set(CourierConfig.CONNECT_TIMEOUT, "2s");
    }

    @Test
    @DisplayName("a misspelled retry-topic.treshold fails the connect with the key meant")
    void thresholdTypo() {
        assertThatThrownBy(() -> Courier.connect(config().set("courier.kafka.retry-topic.treshold", "5m").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.kafka.retry-topic.treshold (from CourierConfig.Builder.set)")
                .hasMessageContaining("did you mean courier.kafka.retry-topic.threshold?");
    }

    @Test
    @DisplayName("a misspelled client prefix is refused with the client property meant")
    void prefixTypo() {
        assertThatThrownBy(() -> Courier.connect(config().set("courier.kafka.producr.linger.ms", "20").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean courier.kafka.producer.linger.ms?");
    }

    @Test
    @DisplayName("a misspelled key from a system property names its origin")
    void systemProperty() {
        Properties system = new Properties();
        system.setProperty("courier.kafka.comit.interval", "1s");
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().environment(java.util.Map.of()).systemProperties(system)
                .resource(null).url(NOWHERE).build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.kafka.comit.interval (from system property)")
                .hasMessageContaining("did you mean courier.kafka.commit.interval?");
    }

    @Test
    @DisplayName("keys under common., producer., consumer. and admin., URL parameters and the testkit's properties are accepted unchecked")
    void passThrough() {
        CourierConfig c = config()
                .set("courier.kafka.common.security.protocol", "PLAINTEXT")
                .set("courier.kafka.producer.some.future.property", "1")
                .set("courier.kafka.consumer.max.poll.records", "10")
                .set("courier.kafka.admin.client.id", "x")
                .set(EmbeddedKafka.CLASSPATH_PROPERTY, "/tmp/cp")
                .set(EmbeddedKafka.JVM_OPTIONS_PROPERTY, "-Xmx64m")
                .set("courier.kafka.topic.replication.factor", "1") // COURIER_KAFKA_TOPIC_REPLICATION_FACTOR
                .build();
        assertThatCode(() -> KafkaSettings.KEYS.check(c, dev.courier.spi.BrokerUrl.parse(NOWHERE + "?linger.ms=5&whatever=1")))
                .doesNotThrowAnyException();
        assertThat(new KafkaBindingProvider().configKeys()).isSameAs(KafkaSettings.KEYS);
    }

    @Test
    @DisplayName("misspelled keys of other bindings do not fail a Kafka connect")
    void otherBindings() {
        CourierConfig c = config().set("courier.nats.mdoe", "core").set("courier.rabbitmq.prefech", "5")
                .set("courier.mem.kepe", "true").build();
        assertThatCode(() -> KafkaSettings.KEYS.check(c, null)).doesNotThrowAnyException();
        // and a mem:// connect with a misspelled Kafka key in the same configuration works
        try (Courier mem = Courier.connect(CourierConfig.builder().withoutEnvironment().url("mem://kafka-keys-" + UUID.randomUUID())
                .set("courier.kafka.retry-topic.treshold", "5m").build())) {
            assertThat(mem.config().duration("courier.kafka.retry-topic.treshold", Duration.ZERO)).isEqualTo(Duration.ofMinutes(5));
        }
    }
}
