package dev.courier.reliability;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A courier.reliability.* key the policy does not read is refused instead of switching features on with their defaults. */
class ReliabilityKeysTest {

    private final TestCouriers couriers = new TestCouriers("relkeys");

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    @Test
    @DisplayName("a misspelled circuit-breaker.enable=false fails the connect instead of turning the breaker on")
    void breakerEnableTypo() {
        assertThatThrownBy(() -> couriers.connect(Map.of("courier.reliability.circuit-breaker.enable", "false"), CourierListener.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.reliability.circuit-breaker.enable (from CourierConfig.Builder.set)")
                .hasMessageContaining("did you mean courier.reliability.circuit-breaker.enabled?");
    }

    @Test
    @DisplayName("a misspelled retry.atempts=5 fails the connect instead of installing 3 attempts")
    void attemptsTypo() {
        assertThatThrownBy(() -> couriers.connect(Map.of("courier.reliability.retry.atempts", "5"), CourierListener.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean courier.reliability.retry.attempts?");
        assertThatThrownBy(() -> Reliability.fromConfig(CourierConfig.builder().withoutEnvironment()
                .set("courier.reliability.retry.atempts", "5").build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean courier.reliability.retry.attempts?");
    }

    @Test
    @DisplayName("a key near none lists the valid keys under its prefix")
    void listsKeys() {
        assertThatThrownBy(() -> couriers.connect(Map.of("courier.reliability.retry.count", "5"), CourierListener.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("valid keys under courier.reliability.retry.: " + Reliability.RETRY_ATTEMPTS);
    }

    @Test
    @DisplayName("keys are checked while the policy is off, and with one added in code")
    void checkedWhenOff() {
        assertThatThrownBy(() -> couriers.connect(Map.of(Reliability.ENABLED, "false", "courier.reliability.handler-timout", "5s"),
                CourierListener.NONE, Reliability.builder().build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("did you mean courier.reliability.handler-timeout?");
    }

    @Test
    @DisplayName("a COURIER_RELIABILITY_ variable near a key is refused; one near none is logged and does not turn the policy on")
    void environment() {
        CourierConfig near = CourierConfig.builder().environment(Map.of("COURIER_RELIABILITY_RETRY_ATEMPTS", "5"))
                .systemProperties(new Properties()).resource(null).url(couriers.broker).build();
        assertThatThrownBy(() -> Courier.connect(near))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("(from environment variable COURIER_RELIABILITY_RETRY_ATEMPTS)")
                .hasMessageContaining("did you mean courier.reliability.retry.attempts?");

        CourierConfig far = CourierConfig.builder().environment(Map.of("COURIER_RELIABILITY_OWNER", "ops"))
                .systemProperties(new Properties()).resource(null).url(couriers.broker).build();
        assertThat(new ReliabilityInterceptorProvider().enabled(far)).isFalse();
        Courier courier = couriers.add(Courier.connect(far));
        assertThat(courier.isClosed()).isFalse();
    }

    @Test
    @DisplayName("dotted spellings of known keys (as environment variables give them) still count and install the policy")
    void dottedSpelling() {
        CourierConfig config = CourierConfig.builder().environment(Map.of("COURIER_RELIABILITY_CIRCUIT_BREAKER_MINIMUM_CALLS", "5"))
                .systemProperties(new Properties()).resource(null).build();
        Reliability r = Reliability.fromConfig(config);
        assertThat(r.circuitBreaker().config().getMinimumNumberOfCalls()).isEqualTo(5);
    }
}
