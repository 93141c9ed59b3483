package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Connecting: wrong addresses fail fast, and secrets never reach the message. */
class NatsConnectTest {

    @Test
    @DisplayName("a URL where no server listens fails fast with BrokerUnavailableException naming the masked URL")
    void wrongUrlFailsFast() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String url = "nats://alice:s3cr3t-pw@127.0.0.1:" + port;
        long start = System.nanoTime();
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set(CourierConfig.CONNECT_TIMEOUT, "3s").build()))
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("nats://alice:****@127.0.0.1:" + port)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cr3t-pw"));
        assertThat((System.nanoTime() - start) / 1_000_000).as("milliseconds to fail").isLessThan(10_000);
    }

    @Test
    @DisplayName("the provider declares a JetStream and a core capability set")
    void declaresBothModes() {
        assertThat(new NatsBindingProvider().declaredCapabilities()).containsExactly(NatsBinding.JETSTREAM, NatsBinding.CORE);
        assertThat(NatsBinding.CORE.supports(dev.courier.Capability.AT_LEAST_ONCE)).isFalse();
    }

    @Test
    @DisplayName("keys with dashes are read from environment variables, and URL parameters win over configuration")
    void settingsFromEnvironmentAndUrl() {
        CourierConfig config = CourierConfig.builder().resource(null).systemProperties(new java.util.Properties())
                .environment(java.util.Map.of("COURIER_NATS_CREDENTIALS_FILE", "/etc/app.creds", "COURIER_NATS_MODE", "core"))
                .url("nats://127.0.0.1:4222?stream.max-age=1h").build();
        NatsSettings s = NatsSettings.from(config, dev.courier.spi.BrokerUrl.parse(config.url()));
        assertThat(s.credentialsFile).isEqualTo("/etc/app.creds");
        assertThat(s.coreMode).isTrue();
        assertThat(s.maxAge).isEqualTo(java.time.Duration.ofHours(1));
    }

    @Test
    @DisplayName("header values that are not printable ASCII survive the trip as encoded words")
    void headerValuesRoundTrip() {
        for (String v : new String[] {"plain", "zoë ✓ 漢字", "line1\nline2\tend", "=?utf-8?b?looks-encoded?="}) {
            assertThat(NatsMessages.decode(NatsMessages.encode(v))).isEqualTo(v);
        }
        assertThat(NatsMessages.encode("plain")).isEqualTo("plain");
        assertThat(NatsMessages.keyToken("a b.*.>.")).isEqualTo("a_b._._._");
    }
}
