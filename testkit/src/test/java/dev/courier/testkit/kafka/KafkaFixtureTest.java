package dev.courier.testkit.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KafkaFixtureTest {

    private final String before = System.getProperty(KafkaFixture.URL_PROPERTY);

    @AfterEach
    void restoreProperty() {
        if (before == null) {
            System.clearProperty(KafkaFixture.URL_PROPERTY);
        } else {
            System.setProperty(KafkaFixture.URL_PROPERTY, before);
        }
    }

    @Test
    void turnsUrlsIntoBootstrapServers() {
        assertThat(KafkaFixture.toBootstrapServers("kafka://127.0.0.1:9092")).isEqualTo("127.0.0.1:9092");
        assertThat(KafkaFixture.toBootstrapServers("kafka://a:1,b:2/")).isEqualTo("a:1,b:2");
        assertThat(KafkaFixture.toBootstrapServers("localhost:9092")).isEqualTo("localhost:9092");
        assertThatThrownBy(() -> KafkaFixture.toBootstrapServers("kafka://")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void usesAConfiguredBrokerThatAnswers() {
        String url = EmbeddedKafka.shared().url();
        System.setProperty(KafkaFixture.URL_PROPERTY, url);
        assertThat(KafkaFixture.isExternal()).isTrue();
        assertThat(KafkaFixture.resolve()).isEqualTo(url);
        assertThat(KafkaFixture.bootstrapServers()).isEqualTo(EmbeddedKafka.shared().bootstrapServers());

        // a bare host:port is accepted too
        System.setProperty(KafkaFixture.URL_PROPERTY, EmbeddedKafka.shared().bootstrapServers());
        assertThat(KafkaFixture.resolve()).isEqualTo(url);
    }

    @Test
    void failsClearlyWhenTheConfiguredBrokerDoesNotAnswer() {
        int closedPort = EmbeddedKafka.freePort();
        System.setProperty(KafkaFixture.URL_PROPERTY, "kafka://127.0.0.1:" + closedPort);
        assertThatThrownBy(KafkaFixture::resolve)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("kafka://127.0.0.1:" + closedPort)
                .hasMessageContaining(KafkaFixture.URL_ENV)
                .hasMessageContaining("scripts/kafka.sh start");
    }

    @Test
    void usesTheSharedEmbeddedBrokerByDefault() {
        System.clearProperty(KafkaFixture.URL_PROPERTY);
        if (System.getenv(KafkaFixture.URL_ENV) == null) {
            assertThat(KafkaFixture.isExternal()).isFalse();
            assertThat(KafkaFixture.resolve()).isEqualTo(EmbeddedKafka.shared().url());
        }
    }
}
