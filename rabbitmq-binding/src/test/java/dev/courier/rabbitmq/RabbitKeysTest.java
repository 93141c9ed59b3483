package dev.courier.rabbitmq;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A courier.rabbitmq key the binding does not read, or any URL parameter, fails the connect before any broker is contacted. */
class RabbitKeysTest {

    /** Nothing listens here: a connect that got as far as the broker would fail differently. */
    private static final String NOWHERE = "amqp://guest:guest@127.0.0.1:1/";

    @Test
    @DisplayName("a misspelled key fails the connect with the key meant")
    void keyTypo() {
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(NOWHERE)
                .set("courier.rabbitmq.prefech", "10").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.rabbitmq.prefech (from CourierConfig.Builder.set)")
                .hasMessageContaining("did you mean courier.rabbitmq.prefetch?");
    }

    @Test
    @DisplayName("a misspelled key from the environment near a valid one is refused, naming the variable")
    void environmentTypo() {
        CourierConfig config = CourierConfig.builder().resource(null).systemProperties(new Properties())
                .environment(Map.of("COURIER_RABBITMQ_QUEUE_TPYE", "quorum")).url(NOWHERE).build();
        assertThatThrownBy(() -> Courier.connect(config))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("(from environment variable COURIER_RABBITMQ_QUEUE_TPYE)")
                .hasMessageContaining("did you mean courier.rabbitmq.queue-type?");
    }

    @Test
    @DisplayName("a URL parameter is refused: the binding reads none")
    void urlParameter() {
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(NOWHERE + "?heartbeat=10").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("URL parameter 'heartbeat'")
                .hasMessageContaining("set its keys under courier.rabbitmq. instead");
    }

    @Test
    @DisplayName("every documented key, its dotted spelling, and other bindings' keys are accepted")
    void accepted() {
        CourierConfig c = CourierConfig.builder().withoutEnvironment().url(NOWHERE)
                .set(RabbitConfig.TLS_VERIFY_HOSTNAME, "false")
                .set("courier.rabbitmq.publisher.channels", "2")
                .set("courier.rabbitmq.recovery.interval", "1s") // COURIER_RABBITMQ_RECOVERY_INTERVAL
                .set("courier.kafka.retry-topic.treshold", "5m")
                .build();
        assertThatCode(() -> RabbitConfig.KEYS.check(c, BrokerUrl.parse(NOWHERE))).doesNotThrowAnyException();
        assertThat(new RabbitBindingProvider().configKeys()).isSameAs(RabbitConfig.KEYS);
    }
}
