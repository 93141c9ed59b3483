package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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

    @Test
    @DisplayName("the duplicate window follows a shorter max age unless set; set longer than the max age, it is refused at connect")
    void duplicateWindowFitsTheMaxAge() {
        assertThat(settings(Map.of()).duplicateWindow).isEqualTo(Duration.ofMinutes(2));
        assertThat(settings(Map.of(NatsSettings.STREAM_MAX_AGE, "1m")).duplicateWindow).isEqualTo(Duration.ofMinutes(1));
        assertThat(settings(Map.of(NatsSettings.STREAM_MAX_AGE, "0")).duplicateWindow).isEqualTo(Duration.ofMinutes(2));
        assertThat(settings(Map.of(NatsSettings.STREAM_MAX_AGE, "1m", NatsSettings.STREAM_DUPLICATE_WINDOW, "30s")).duplicateWindow)
                .isEqualTo(Duration.ofSeconds(30));
        assertThat(settings(Map.of(NatsSettings.STREAM_MAX_AGE, "0", NatsSettings.STREAM_DUPLICATE_WINDOW, "1h")).duplicateWindow)
                .isEqualTo(Duration.ofHours(1));
        assertThatThrownBy(() -> settings(Map.of(NatsSettings.STREAM_MAX_AGE, "1m", NatsSettings.STREAM_DUPLICATE_WINDOW, "5m")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(NatsSettings.STREAM_DUPLICATE_WINDOW + "=5m")
                .hasMessageContaining(NatsSettings.STREAM_MAX_AGE + "=1m");
    }

    private static NatsSettings settings(Map<String, String> values) {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(values).url("nats://127.0.0.1:4222").build();
        return NatsSettings.from(config, dev.courier.spi.BrokerUrl.parse(config.url()));
    }

    @Test
    @DisplayName("a wrong password fails Courier.connect at once (the server says so at once), typed and masked")
    void wrongPasswordFailsFast(@TempDir Path dir) throws Exception {
        String binary = NatsReconnectTest.SERVER_BINARY;
        if (!new File(binary).canExecute()) {
            throw new AssertionError("nats-server not found at " + binary + "; install it or set COURIER_TEST_NATS_SERVER");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process server = new ProcessBuilder(binary, "-a", "127.0.0.1", "-p", Integer.toString(port), "--user", "alice", "--pass", "s3cret")
                .redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (true) {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    break;
                } catch (java.io.IOException notYet) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("nats-server did not start");
                    }
                    Thread.sleep(50);
                }
            }
            String url = "nats://alice:wr0ng-pw@127.0.0.1:" + port + "?mode=core";
            long start = System.nanoTime();
            assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(url)
                    .set(CourierConfig.CONNECT_TIMEOUT, "15s").build()))
                    .isInstanceOf(BrokerUnavailableException.class)
                    .hasMessageContaining("Authorization Violation")
                    .hasMessageContaining("refused the credentials")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wr0ng-pw"));
            assertThat((System.nanoTime() - start) / 1_000_000).as("milliseconds until a rejected password fails").isLessThan(5_000);

            // the right password still connects through the same path
            Courier.connect(CourierConfig.builder().withoutEnvironment().url("nats://alice:s3cret@127.0.0.1:" + port + "?mode=core")
                    .build()).close();
        } finally {
            server.destroyForcibly();
        }
    }
}
