package dev.courier.rabbitmq;

import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What the {@code courier.rabbitmq.*} keys give the client's {@code ConnectionFactory}; no broker needed. */
class RabbitConfigTest {

    private static int heartbeat(String value) {
        String url = "amqp://guest:guest@127.0.0.1:5672/";
        CourierConfig.Builder b = CourierConfig.builder().withoutEnvironment().url(url);
        if (value != null) {
            b.set(RabbitConfig.HEARTBEAT, value);
        }
        return RabbitBindingProvider.connectionFactory(BrokerUrl.parse(url), new RabbitConfig(b.build())).getRequestedHeartbeat();
    }

    @Test
    @DisplayName("heartbeat: AMQP counts whole seconds, so a part of a second is rounded up, never down to 0 (which takes the broker's 60 s)")
    void heartbeatIsRoundedUpToWholeSeconds() {
        assertThat(heartbeat(null)).isEqualTo(30);
        assertThat(heartbeat("500ms")).isEqualTo(1);
        assertThat(heartbeat("1500ms")).isEqualTo(2);
        assertThat(heartbeat("10s")).isEqualTo(10);
        assertThat(heartbeat("0")).as("0 leaves the interval to the broker").isZero();
    }
}
