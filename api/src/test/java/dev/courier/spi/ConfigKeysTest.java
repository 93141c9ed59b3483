package dev.courier.spi;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("ConfigKeys")
class ConfigKeysTest {

    private static final ConfigKeys KEYS = ConfigKeys.of("courier.demo.", List.of("courier.demo.max-held", "courier.demo.mode"))
            .passThrough("courier.demo.client.");

    private static CourierConfig config(String key, String value) {
        return CourierConfig.builder().withoutEnvironment().set(key, value).build();
    }

    @Test
    @DisplayName("known keys, their dotted spelling and keys under a pass-through prefix are accepted")
    void accepted() {
        assertThat(KEYS.accepts("courier.demo.max-held")).isTrue();
        assertThat(KEYS.accepts("courier.demo.max.held")).isTrue(); // COURIER_DEMO_MAX_HELD
        assertThat(KEYS.accepts("courier.demo.client.anything.at.all")).isTrue();
        assertThat(KEYS.accepts("courier.demo.client.")).isFalse();
        assertThatCode(() -> KEYS.check(config("courier.demo.client.linger.ms", "5"), null)).doesNotThrowAnyException();
    }

    @Test
    @DisplayName("a misspelled pass-through prefix is refused with the prefix meant")
    void passThroughTypo() {
        assertThatThrownBy(() -> KEYS.check(config("courier.demo.clinet.linger.ms", "5"), null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean courier.demo.client.linger.ms?");
    }

    @Test
    @DisplayName("a key near none lists the valid keys and prefixes")
    void listsValidKeys() {
        assertThatThrownBy(() -> KEYS.check(config("courier.demo.flavour", "x"), null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("valid keys under courier.demo.: courier.demo.max-held, courier.demo.mode, courier.demo.client.*");
    }

    @Test
    @DisplayName("an unknown environment variable far from every key is only logged; one near a key is refused")
    void environment() {
        Map<String, String> env = Map.of("COURIER_DEMO_HOME", "/opt");
        CourierConfig far = CourierConfig.builder().environment(env).systemProperties(new Properties()).resource(null).build();
        assertThatCode(() -> KEYS.check(far, null)).doesNotThrowAnyException();
        CourierConfig near = CourierConfig.builder().environment(Map.of("COURIER_DEMO_MDOE", "x"))
                .systemProperties(new Properties()).resource(null).build();
        assertThatThrownBy(() -> KEYS.check(near, null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.demo.mdoe (from environment variable COURIER_DEMO_MDOE)")
                .hasMessageContaining("did you mean courier.demo.mode?");
    }

    @Test
    @DisplayName("URL parameters: refused when the binding reads none, checked as keys, or passed through")
    void urlParameters() {
        CourierConfig none = CourierConfig.builder().withoutEnvironment().build();
        BrokerUrl url = BrokerUrl.parse("demo://host?mdoe=x");
        assertThatThrownBy(() -> KEYS.check(none, url))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("URL parameter 'mdoe' of demo://host?mdoe=x is not read: this binding takes no URL parameters");
        assertThatThrownBy(() -> KEYS.urlParameters(ConfigKeys.UrlParameters.KEYS).check(none, url))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean mode?");
        assertThatCode(() -> KEYS.urlParameters(ConfigKeys.UrlParameters.KEYS)
                .check(none, BrokerUrl.parse("demo://host?mode=x&courier.publish.timeout=5s&client.acks=1"))).doesNotThrowAnyException();
        assertThatThrownBy(() -> KEYS.urlParameters(ConfigKeys.UrlParameters.SHORT_KEYS)
                .check(none, BrokerUrl.parse("demo://host?courier.publish.timeout=5s")))
                .isInstanceOf(ConfigurationException.class);
        assertThatCode(() -> KEYS.urlParameters(ConfigKeys.UrlParameters.PASSED_THROUGH).check(none, url)).doesNotThrowAnyException();
    }

    @Test
    @DisplayName("an unchecked namespace refuses nothing")
    void unchecked() {
        assertThatCode(() -> ConfigKeys.unchecked("courier.demo.").check(config("courier.demo.whatever", "1"),
                BrokerUrl.parse("demo://host?x=1"))).doesNotThrowAnyException();
    }

    @Test
    @DisplayName("a swap of two letters is one edit; short keys allow one edit, longer ones more")
    void distance() {
        assertThat(ConfigKeys.distance("mdoe", "mode")).isEqualTo(1);
        assertThat(ConfigKeys.closest("courier.demo.mods", List.of("courier.demo.mode"))).isEqualTo("courier.demo.mode");
        assertThat(ConfigKeys.closest("courier.demo.hose", List.of("courier.demo.mode"))).isNull();
        assertThat(ConfigKeys.closest("courier.demo.treshold", List.of("courier.demo.threshold"))).isEqualTo("courier.demo.threshold");
    }
}
