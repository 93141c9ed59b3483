package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import org.apache.kafka.common.KafkaException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Which client properties the Kafka binding's keys give, and how a client's refusal of them is reported: typed, with the reason, without secrets. */
class KafkaSettingsTest {

    static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\" password=hunter2 secret;";

    @Test
    @DisplayName("a secret setting's values, and a token of it an error quotes, are masked; its key names and other words are not")
    void secretsInErrorsAreMasked() {
        Map<String, Object> props = Map.of("sasl.jaas.config", JAAS, "client.id", "app");
        assertThat(KafkaSettings.masked("Value not specified for key 'secret' in JAAS config", props))
                .isEqualTo("Value not specified for key '****' in JAAS config");
        assertThat(KafkaSettings.masked("Invalid login module control flag 'username' in JAAS config", props))
                .isEqualTo("Invalid login module control flag 'username' in JAAS config");
        assertThat(KafkaSettings.masked("bad password hunter2 for application app", props))
                .isEqualTo("bad password **** for application ****");
        assertThat(KafkaSettings.masked("bad config " + JAAS, props)).isEqualTo("bad config ****");
    }

    @Test
    @DisplayName("a client's refusal is a ConfigurationException with the innermost reason, and without the client's exceptions when they show a secret")
    void refusalIsAConfigurationError() {
        Map<String, Object> props = Map.of("sasl.jaas.config", JAAS);
        ConfigurationException plain = KafkaSettings.refused("producer", props,
                new KafkaException("Failed to construct kafka producer", new IllegalArgumentException("JAAS config entry not terminated by semi-colon")));
        assertThat(plain.getMessage()).startsWith("the Kafka producer refused its settings: JAAS config entry not terminated by semi-colon")
                .contains("sasl.jaas.config");
        assertThat(plain.getCause()).isInstanceOf(KafkaException.class);
        ConfigurationException secret = KafkaSettings.refused("producer", props,
                new KafkaException("Failed to construct kafka producer", new IllegalArgumentException("Value not specified for key 'secret' in JAAS config")));
        assertThat(secret.getMessage()).contains("key '****'").doesNotContain("'secret'");
        assertThat(secret.getCause()).isNull();
    }

    @Test
    @DisplayName("Courier's client defaults give way to the same property in the URL or under common., and the specific prefixes win over both")
    void defaultsGiveWayToUrlAndCommonProperties() {
        String url = "kafka://127.0.0.1:9092?group.protocol=classic&linger.ms=20";
        KafkaSettings s = new KafkaSettings(BrokerUrl.parse(url), CourierConfig.builder().withoutEnvironment().url(url)
                .set("courier.kafka.common.acks", "1")
                .set("courier.kafka.common.enable.idempotence", "false")
                .set("courier.kafka.producer.linger.ms", "50")
                .build());
        assertThat(s.consumer).as("a broker without KIP-848 needs the classic protocol, asked for in the URL")
                .containsEntry("group.protocol", "classic");
        assertThat(s.producer).containsEntry("acks", "1").containsEntry("enable.idempotence", "false")
                .as("producer. wins over the URL").containsEntry("linger.ms", "50")
                .as("Courier's own serializers stay").containsEntry("value.serializer", org.apache.kafka.common.serialization.ByteArraySerializer.class.getName());

        String plain = "kafka://127.0.0.1:9092";
        KafkaSettings defaults = new KafkaSettings(BrokerUrl.parse(plain), CourierConfig.builder().withoutEnvironment().url(plain).build());
        assertThat(defaults.producer).containsEntry("acks", "all").containsEntry("enable.idempotence", "true").containsEntry("linger.ms", "5");
        assertThat(defaults.consumer).containsEntry("group.protocol", "consumer").containsEntry("enable.auto.commit", "false");
    }
}
