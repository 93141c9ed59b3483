package dev.courier.nats;

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

/** A courier.nats key or URL parameter the binding does not read fails the connect, before any server is contacted. */
class NatsKeysTest {

    /** Nothing listens here: a connect that got as far as the server would fail differently. */
    private static final String NOWHERE = "nats://127.0.0.1:1";

    private static CourierConfig.Builder config(String url) {
        return CourierConfig.builder().withoutEnvironment().url(url).set(CourierConfig.CONNECT_TIMEOUT, "2s");
    }

    @Test
    @DisplayName("a misspelled URL parameter fails the connect with the parameter meant")
    void parameterTypo() {
        assertThatThrownBy(() -> Courier.connect(config(NOWHERE + "?mdoe=core").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("URL parameter 'mdoe' of nats://127.0.0.1:1?mdoe=core")
                .hasMessageContaining("did you mean mode?");
    }

    @Test
    @DisplayName("a pull expiry outside 100ms to 30s fails the connect")
    void pullExpiryRange() {
        for (String value : new String[] {"50ms", "31s"}) {
            assertThatThrownBy(() -> Courier.connect(config(NOWHERE).set(NatsSettings.PULL_EXPIRY, value).build()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining(NatsSettings.PULL_EXPIRY + "=" + value + " is out of range; use 100ms to 30s");
        }
    }

    @Test
    @DisplayName("a misspelled key fails the connect with the key meant")
    void keyTypo() {
        assertThatThrownBy(() -> Courier.connect(config(NOWHERE).set("courier.nats.stream.max-aeg", "1h").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.nats.stream.max-aeg (from CourierConfig.Builder.set)")
                .hasMessageContaining("did you mean courier.nats.stream.max-age?");
    }

    @Test
    @DisplayName("native.* keys, core keys as URL parameters and dotted spellings of environment variables are accepted")
    void accepted() {
        CourierConfig c = config(NOWHERE)
                .set("courier.nats.native.io.nats.client.pinginterval", "5000")
                .set("courier.nats.credentials.file", "/etc/app.creds") // COURIER_NATS_CREDENTIALS_FILE
                .set("courier.kafka.retry-topic.treshold", "5m")        // another binding's: not checked here
                .build();
        assertThatCode(() -> NatsSettings.CONFIG_KEYS.check(c,
                BrokerUrl.parse(NOWHERE + "?mode=core&stream.max-age=1h&native.io.nats.client.pinginterval=5000&courier.publish.timeout=5s")))
                .doesNotThrowAnyException();
        assertThat(new NatsBindingProvider().configKeys()).isSameAs(NatsSettings.CONFIG_KEYS);
    }

    @Test
    @DisplayName("an unrelated COURIER_ variable is not copied into the settings' configuration, where it would be refused")
    void unrelatedEnvironmentIsLeftOut() {
        CourierConfig config = CourierConfig.builder().resource(null).systemProperties(new Properties())
                .environment(Map.of("COURIER_HANDLER_POOL", "x", "COURIER_NATS_MODE", "core"))
                .url(NOWHERE + "?stream.max-age=1h").build();
        NatsSettings s = NatsSettings.from(config, BrokerUrl.parse(config.url()));
        assertThat(s.coreMode).isTrue();
    }
}
