package dev.courier;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("CourierConfig")
class CourierConfigTest {

    private static final String RESOURCE = "courier-test.properties";

    /** A builder that sees only the given sources, never the JVM's or the process's. */
    private static CourierConfig.Builder isolated(Map<String, String> env, Properties system, String resource) {
        return CourierConfig.builder().environment(env).systemProperties(system).resource(resource);
    }

    private static Properties props(String... keyValues) {
        Properties p = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.setProperty(keyValues[i], keyValues[i + 1]);
        }
        return p;
    }

    private static CourierConfig explicit(String key, String value) {
        return CourierConfig.builder().withoutEnvironment().set(key, value).build();
    }

    @Nested
    @DisplayName("sources")
    class Sources {

        @Test
        @DisplayName("an explicit value beats system properties, which beat the environment, which beats courier.properties, which beats the defaults")
        void precedence() {
            Map<String, String> env = Map.of(
                    "COURIER_PUBLISH_TIMEOUT", "21s",
                    "COURIER_REQUEST_TIMEOUT", "22s",
                    "COURIER_CLOSE_TIMEOUT", "23s");
            Properties system = props(
                    "courier.publish.timeout", "31s",
                    "courier.request.timeout", "32s");

            CourierConfig config = isolated(env, system, RESOURCE).set(CourierConfig.PUBLISH_TIMEOUT, "41s").build();

            assertThat(config.publishTimeout()).isEqualTo(Duration.ofSeconds(41));
            assertThat(config.requestTimeout()).isEqualTo(Duration.ofSeconds(32));
            assertThat(config.closeTimeout()).isEqualTo(Duration.ofSeconds(23));
            assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(14));
            assertThat(config.url()).isEqualTo("kafka://from-file:9092");
            assertThat(config.get(CourierConfig.HANDLER_THREADS)).isEqualTo("auto");
        }

        @Test
        @DisplayName("without any source every known key has its documented default")
        void defaults() {
            CourierConfig config = isolated(Map.of(), new Properties(), null).build();

            assertThat(config.url()).isEqualTo("mem://");
            assertThat(config.publishTimeout()).isEqualTo(Duration.ofSeconds(30));
            assertThat(config.requestTimeout()).isEqualTo(Duration.ofSeconds(30));
            assertThat(config.closeTimeout()).isEqualTo(Duration.ofSeconds(30));
            assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(15));
            assertThat(config.trustedPackages()).isEmpty();
            assertThat(config.get(CourierConfig.HANDLER_THREADS)).isEqualTo("auto");
            assertThat(config.get("courier.unknown")).isNull();
            assertThat(config.find("courier.unknown")).isEmpty();
        }

        @Test
        @DisplayName("withoutEnvironment() ignores system properties, environment and the properties file")
        void withoutEnvironment() {
            CourierConfig config = isolated(Map.of("COURIER_URL", "nats://env:4222"),
                    props("courier.url", "amqp://sys:5672/"), RESOURCE).withoutEnvironment().build();

            assertThat(config.url()).isEqualTo("mem://");
            assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(15));
        }

        @Test
        @DisplayName("only environment variables starting with COURIER_ and system properties starting with courier. are read")
        void foreignNamesIgnored() {
            CourierConfig config = isolated(Map.of("PATH", "/usr/bin", "URL", "kafka://x:1"),
                    props("java.version", "17", "url", "kafka://y:1"), null).build();

            assertThat(config.describe()).isEmpty();
            assertThat(config.url()).isEqualTo("mem://");
        }

        @Test
        @DisplayName("a null value is refused (an unset variable must not fall back to mem:// or the environment unnoticed)")
        void nullRefused() {
            assertThatThrownBy(() -> CourierConfig.builder().withoutEnvironment().url(null))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.url is null;");
            assertThatThrownBy(() -> CourierConfig.builder().set(CourierConfig.PUBLISH_TIMEOUT, null))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.publish.timeout is null;");
        }

        @Test
        @DisplayName("ofUrl() gives the URL over the defaults")
        void ofUrl() {
            CourierConfig config = CourierConfig.ofUrl("nats://localhost:4222");

            assertThat(config.url()).isEqualTo("nats://localhost:4222");
            assertThat(config.publishTimeout()).isEqualTo(Duration.ofSeconds(30));
        }
    }

    @Nested
    @DisplayName("environment variable names")
    class EnvironmentNames {

        @ParameterizedTest(name = "{0} -> {1}")
        @CsvSource({
                "COURIER_URL, courier.url, kafka://env-host:9092",
                "COURIER_PUBLISH_TIMEOUT, courier.publish.timeout, 7s",
                "COURIER_KAFKA_PRODUCER_LINGER_MS, courier.kafka.producer.linger.ms, 5",
                "COURIER_CODEC_TRUSTED_PACKAGES, courier.codec.trusted-packages, com.acme",
                "COURIER_HANDLER_THREADS, courier.handler.threads, platform"
        })
        @DisplayName("map to keys by lower-casing and turning underscores into dots; known keys keep their dashes")
        void mapping(String variable, String key, String value) {
            CourierConfig config = isolated(Map.of(variable, value), new Properties(), null).build();

            assertThat(CourierConfig.Builder.envToKey(variable)).isEqualTo(key);
            assertThat(config.get(key)).isEqualTo(value);
        }

        @Test
        @DisplayName("a binding's variables show up under its prefix with dots")
        void bindingPrefix() {
            CourierConfig config = isolated(Map.of("COURIER_KAFKA_PRODUCER_LINGER_MS", "5"), new Properties(), null).build();

            assertThat(config.withPrefix("courier.kafka.producer.")).containsExactly(Map.entry("linger.ms", "5"));
        }
    }

    @Nested
    @DisplayName("durations")
    class Durations {

        @ParameterizedTest(name = "{0} is {1}")
        @CsvSource({
                "500ms, PT0.5S",
                "30s, PT30S",
                "5m, PT5M",
                "1h, PT1H",
                "PT30S, PT30S",
                "pt2m, PT2M",
                "1500, PT1.5S",
                "' 45s ', PT45S",
                "10S, PT10S"
        })
        @DisplayName("accept ms, s, m, h suffixes, ISO-8601 and plain milliseconds")
        void forms(String raw, String expected) {
            assertThat(explicit(CourierConfig.PUBLISH_TIMEOUT, raw).publishTimeout()).isEqualTo(Duration.parse(expected));
        }

        @ParameterizedTest(name = "''{0}''")
        @ValueSource(strings = {"soon", "5 minutes", "1d", "ms", "PT", "30x", "1.5s"})
        @DisplayName("a bad value fails with a ConfigurationException naming the key, the value and the allowed forms")
        void badValue(String raw) {
            assertThatThrownBy(() -> explicit(CourierConfig.PUBLISH_TIMEOUT, raw))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("courier.publish.timeout=" + raw + " is not a duration; use e.g. 500ms, 30s, 5m, 1h or PT30S");
        }

        @ParameterizedTest(name = "''{0}''")
        @ValueSource(strings = {"99999999999999999h", "9223372036854775807m", "P999999999999999D", "3000000h", "P107000D"})
        @DisplayName("a value too large for a java.time.Duration, or for nanoseconds (over about 292 years), fails with a ConfigurationException naming the key")
        void tooLarge(String raw) {
            assertThatThrownBy(() -> explicit(CourierConfig.PUBLISH_TIMEOUT, raw))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.publish.timeout=" + raw + " is too long");
        }

        @Test
        @DisplayName("a bad value of a binding key fails when it is read, naming that key")
        void badBindingValue() {
            CourierConfig config = explicit("courier.nats.ping.interval", "often");

            assertThatThrownBy(() -> config.duration("courier.nats.ping.interval", Duration.ofSeconds(1)))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.nats.ping.interval=often is not a duration");
        }

        @Test
        @DisplayName("an absent or blank value gives the caller's default")
        void absentOrBlank() {
            CourierConfig config = explicit("courier.x.blank", "  ");

            assertThat(config.duration("courier.x.blank", Duration.ofMillis(7))).isEqualTo(Duration.ofMillis(7));
            assertThat(config.duration("courier.x.absent", Duration.ofMillis(8))).isEqualTo(Duration.ofMillis(8));
        }
    }

    @Nested
    @DisplayName("typed values")
    class TypedValues {

        @Test
        @DisplayName("intValue() parses within range and names the key and range otherwise")
        void intValue() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .set("courier.x.n", " 12 ").set("courier.x.big", "99").set("courier.x.word", "ten").build();

            assertThat(config.intValue("courier.x.n", 1, 1, 50)).isEqualTo(12);
            assertThat(config.intValue("courier.x.absent", 3, 1, 50)).isEqualTo(3);
            assertThatThrownBy(() -> config.intValue("courier.x.big", 1, 1, 50))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("courier.x.big=99 is out of range; allowed 1 to 50");
            assertThatThrownBy(() -> config.intValue("courier.x.word", 1, 1, 50))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("courier.x.word=ten is not a whole number; allowed 1 to 50");
        }

        @Test
        @DisplayName("booleanValue() accepts true/false, yes/no, on/off, 1/0 and names the key otherwise")
        void booleanValue() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .set("courier.x.a", "YES").set("courier.x.b", "off").set("courier.x.c", "maybe").build();

            assertThat(config.booleanValue("courier.x.a", false)).isTrue();
            assertThat(config.booleanValue("courier.x.b", true)).isFalse();
            assertThat(config.booleanValue("courier.x.absent", true)).isTrue();
            assertThatThrownBy(() -> config.booleanValue("courier.x.c", true))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("courier.x.c=maybe is not a boolean; use true or false");
        }

        @Test
        @DisplayName("trustedPackages() splits on commas and drops blanks")
        void trustedPackages() {
            CourierConfig config = explicit(CourierConfig.TRUSTED_PACKAGES, " com.acme.events, ,org.example ,");

            assertThat(config.trustedPackages()).containsExactly("com.acme.events", "org.example");
        }
    }

    @Nested
    @DisplayName("withPrefix()")
    class WithPrefix {

        @Test
        @DisplayName("returns every key under the prefix with the prefix removed, sorted, and nothing else")
        void strips() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .set("courier.kafka.producer.linger.ms", "5")
                    .set("courier.kafka.producer.acks", "all")
                    .set("courier.kafka.producer.", "empty rest is skipped")
                    .set("courier.kafka.consumer.max.poll.records", "100")
                    .build();

            assertThat(config.withPrefix("courier.kafka.producer."))
                    .containsExactly(Map.entry("acks", "all"), Map.entry("linger.ms", "5"));
        }

        @Test
        @DisplayName("includes values from the properties file")
        void fromFile() {
            CourierConfig config = isolated(Map.of(), new Properties(), RESOURCE).build();

            assertThat(config.withPrefix("courier.kafka.producer.")).containsExactly(Map.entry("acks", "all"));
        }
    }

    @Nested
    @DisplayName("describe()")
    class Describe {

        @Test
        @DisplayName("masks passwords, secrets, tokens, JAAS configs and keys but shows other values")
        void masksSecrets() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .set("courier.rabbitmq.password", "hunter2")
                    .set("courier.nats.token", "s3cr3t-token")
                    .set("courier.kafka.sasl.jaas.config", "PlainLoginModule required password=\"x\";")
                    .set("courier.kafka.ssl.key", "PEM")
                    .set("courier.x.client-secret", "abc")
                    .set("courier.kafka.producer.acks", "all")
                    .build();

            assertThat(config.describe()).containsExactly(
                    Map.entry("courier.kafka.producer.acks", "all"),
                    Map.entry("courier.kafka.sasl.jaas.config", "****"),
                    Map.entry("courier.kafka.ssl.key", "****"),
                    Map.entry("courier.nats.token", "****"),
                    Map.entry("courier.rabbitmq.password", "****"),
                    Map.entry("courier.x.client-secret", "****"));
            assertThat(config.toString()).doesNotContain("hunter2", "s3cr3t-token", "abc");
        }

        @Test
        @DisplayName("masks the password in the URL but keeps the user and host")
        void masksUrlPassword() {
            CourierConfig config = CourierConfig.ofUrl("amqp://guest:very-secret@rabbit:5672/vhost");

            assertThat(config.describe()).containsEntry("courier.url", "amqp://guest:****@rabbit:5672/vhost");
            assertThat(config.toString()).doesNotContain("very-secret");
        }

        @Test
        @DisplayName("masks the password of every URL-valued setting, not only courier.url (a Redis or JDBC URL of the idempotency store)")
        void masksPasswordsInOtherUrls() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .set("courier.reliability.idempotency.redis-url", "redis://app:r3dis-pw@redis:6379/0")
                    .set("courier.reliability.idempotency.jdbc-url", "jdbc:postgresql://db:5432/app?user=app&password=pg-pw")
                    .build();

            assertThat(config.describe())
                    .containsEntry("courier.reliability.idempotency.redis-url", "redis://app:****@redis:6379/0")
                    .containsEntry("courier.reliability.idempotency.jdbc-url", "jdbc:postgresql://db:5432/app?user=app&password=****");
            assertThat(config.toString()).doesNotContain("r3dis-pw", "pg-pw");
        }

        @Test
        @DisplayName("masks a token passed as a query parameter of the URL")
        void masksUrlQueryToken() {
            CourierConfig config = CourierConfig.ofUrl("nats://localhost:4222?token=s3cr3t");

            assertThat(config.describe()).containsEntry("courier.url", "nats://localhost:4222?token=****");
            assertThat(config.toString()).doesNotContain("s3cr3t");
        }

        @ParameterizedTest(name = "{0} -> {1}")
        @CsvSource({
                "kafka://localhost:9092, kafka://localhost:9092",
                "amqp://user:p@ss@host:5672/, amqp://user:****@host:5672/",
                "nats://s3cr3t@localhost:4222, nats://****@localhost:4222",
                "amqp://user:@host, amqp://user:****@host",
                "not-a-url, not-a-url",
                "nats://localhost:4222?token=abc&name=app, nats://localhost:4222?token=****&name=app",
                "amqp://u:pw@h/vh?password=pw2&heartbeat=30, amqp://u:****@h/vh?password=****&heartbeat=30",
                "amqp://h/vh?authToken=, amqp://h/vh?authToken=****",
                "amqp://guest:s3cr?et99@127.0.0.1:5672/, amqp://guest:****@127.0.0.1:5672/",
                "nats://tok?en123@127.0.0.1:4222?name=app, nats://****@127.0.0.1:4222?name=app",
                "nats://n:4222?name=ops@corp&token=t, nats://n:4222?name=ops@corp&token=****"
        })
        @DisplayName("maskUrl() masks the password, a lone token and password- or token-like query parameters")
        void maskUrl(String url, String masked) {
            assertThat(CourierConfig.maskUrl(url)).isEqualTo(masked);
        }

        @Test
        @DisplayName("maskUrl(null) is null")
        void maskNull() {
            assertThat(CourierConfig.maskUrl(null)).isNull();
        }
    }

    @Nested
    @DisplayName("validate()")
    class Validate {

        @ParameterizedTest(name = "''{0}''")
        @ValueSource(strings = {"localhost:9092", "kafka", "kafka:/localhost"})
        @DisplayName("rejects a URL without a scheme, naming the key and showing examples")
        void urlWithoutScheme(String url) {
            assertThatThrownBy(() -> CourierConfig.ofUrl(url))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.url='" + url + "' is not a URL; expected scheme://...")
                    .hasMessageContaining("kafka://localhost:9092");
        }

        @Test
        @DisplayName("rejects an unknown handler thread mode, naming the allowed ones")
        void handlerThreads() {
            assertThatThrownBy(() -> explicit(CourierConfig.HANDLER_THREADS, "green"))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("courier.handler.threads=green is invalid; use auto, virtual or platform");
        }

        @Test
        @DisplayName("rejects a bad duration read from the environment when the configuration is built")
        void badEnvironmentDuration() {
            assertThatThrownBy(() -> isolated(Map.of("COURIER_CONNECT_TIMEOUT", "forever"), new Properties(), null).build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageStartingWith("courier.connect.timeout=forever is not a duration");
        }

        @Test
        @DisplayName("a blank key is refused by the builder")
        void blankKey() {
            assertThatThrownBy(() -> CourierConfig.builder().set(" ", "x"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("config key must be non-empty");
        }
    }
}
