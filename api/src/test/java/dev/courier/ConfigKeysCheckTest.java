package dev.courier;

import dev.courier.mem.MemoryBindingProvider;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.assertThatCode;

/** A key no part of Courier reads is refused, naming where it came from and the key meant, not ignored. */
@DisplayName("unknown configuration keys")
class ConfigKeysCheckTest {

    private static CourierConfig.Builder isolated(Map<String, String> env, Properties system) {
        return CourierConfig.builder().environment(env).systemProperties(system).resource(null);
    }

    private static Properties props(String key, String value) {
        Properties p = new Properties();
        p.setProperty(key, value);
        return p;
    }

    @Nested
    @DisplayName("of the core, at build()")
    class Core {

        @Test
        @DisplayName("a misspelled core key set explicitly is refused with the key meant")
        void explicitTypo() {
            assertThatThrownBy(() -> CourierConfig.builder().withoutEnvironment().set("courier.publish.timout", "5s").build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("courier.publish.timout (from CourierConfig.Builder.set) is not a setting Courier reads")
                    .hasMessageContaining("did you mean courier.publish.timeout?");
        }

        @Test
        @DisplayName("a misspelled key from a system property or courier.properties names that source")
        void origins() {
            assertThatThrownBy(() -> isolated(Map.of(), props("courier.handler.thread", "platform")).build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("courier.handler.thread (from system property)")
                    .hasMessageContaining("did you mean courier.handler.threads?");
            assertThatThrownBy(() -> CourierConfig.builder().environment(Map.of()).systemProperties(new Properties())
                    .resource("courier-typo.properties").build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("courier.conect.timeout (from courier-typo.properties)")
                    .hasMessageContaining("did you mean courier.connect.timeout?");
        }

        @Test
        @DisplayName("a key under a core namespace with nothing near lists the core's keys")
        void noneNear() {
            assertThatThrownBy(() -> CourierConfig.builder().withoutEnvironment().set("courier.publish.retries", "3").build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("the core's keys are courier.close.timeout, courier.codec.trusted-packages");
        }

        @Test
        @DisplayName("a misspelled namespace of a module is refused with the namespace meant")
        void namespaceTypo() {
            assertThatThrownBy(() -> CourierConfig.builder().withoutEnvironment().set("courier.reliabilty.retry.attempts", "5").build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("did you mean courier.reliability.retry.attempts?");
            assertThatThrownBy(() -> CourierConfig.builder().withoutEnvironment().set("courier.kafak.producer.acks", "1").build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("did you mean courier.kafka.producer.acks?");
        }

        @Test
        @DisplayName("keys of modules, of the testkit and samples, and outside Courier's namespaces are left to their readers")
        void othersAccepted() {
            assertThatCode(() -> CourierConfig.builder().withoutEnvironment()
                    .set("courier.kafka.retry-topic.treshold", "5m") // the Kafka binding checks its keys when it is used
                    .set("courier.nats.mdoe", "core")
                    .set("courier.rabbitmq.prefech", "10")
                    .set("courier.reliability.retry.atempts", "5")
                    .set("courier.test.kafka.url", "kafka://127.0.0.1:9092")
                    .set("courier.sample.timeout", "60s")
                    .set("courier.docs.write", "true")
                    .set("courier.myapp.region", "eu")
                    .build()).doesNotThrowAnyException();
        }
    }

    @Nested
    @DisplayName("from environment variables")
    class Environment {

        @Test
        @DisplayName("a COURIER_ variable near a valid key is refused, naming the variable")
        void nearIsRefused() {
            assertThatThrownBy(() -> isolated(Map.of("COURIER_PUBLISH_TIMOUT", "5s"), new Properties()).build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("(from environment variable COURIER_PUBLISH_TIMOUT)")
                    .hasMessageContaining("did you mean courier.publish.timeout?");
        }

        @Test
        @DisplayName("unrelated COURIER_ variables, such as COURIER_HOME or COURIER_VERSION, do not fail the build or a connect")
        void unrelatedAreAccepted() {
            CourierConfig config = isolated(Map.of("COURIER_HOME", "/opt/courier", "COURIER_VERSION", "2.1",
                    "COURIER_HANDLER_POOL_NAME", "x", "COURIER_MEM_DIR", "/tmp"), new Properties())
                    .url("mem://env-" + UUID.randomUUID()).build();
            assertThat(config.origin("courier.home")).isEqualTo("environment variable COURIER_HOME");
            assertThat(config.fromEnvironment("courier.home")).isTrue();
            try (Courier courier = Courier.connect(config)) {
                assertThat(courier.isClosed()).isFalse();
            }
        }

        @Test
        @DisplayName("a variable of the binding in use near one of its keys fails the connect")
        void nearModuleKeyFailsConnect() {
            CourierConfig config = isolated(Map.of("COURIER_MEM_RETENTON", "5"), new Properties())
                    .url("mem://env-" + UUID.randomUUID()).build();
            assertThatThrownBy(() -> Courier.connect(config))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("courier.mem.retenton (from environment variable COURIER_MEM_RETENTON)")
                    .hasMessageContaining("did you mean courier.mem.retention?");
        }

        @Test
        @DisplayName("a value set explicitly replaces the environment's as the key's origin")
        void explicitWins() {
            CourierConfig config = isolated(Map.of("COURIER_PUBLISH_TIMEOUT", "5s"), new Properties())
                    .set(CourierConfig.PUBLISH_TIMEOUT, "6s").build();
            assertThat(config.origin(CourierConfig.PUBLISH_TIMEOUT)).isEqualTo("CourierConfig.Builder.set");
            assertThat(config.fromEnvironment(CourierConfig.PUBLISH_TIMEOUT)).isFalse();
            assertThat(config.origin(CourierConfig.CLOSE_TIMEOUT)).isNull();
        }
    }

    @Nested
    @DisplayName("of mem://, at connect")
    class Memory {

        @Test
        @DisplayName("a misspelled courier.mem key fails the connect with the key meant")
        void keyTypo() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment().url("mem://typo-" + UUID.randomUUID())
                    .set("courier.mem.kepe", "true").build();
            assertThatThrownBy(() -> Courier.connect(config))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("courier.mem.kepe (from CourierConfig.Builder.set)")
                    .hasMessageContaining("did you mean " + MemoryBindingProvider.KEEP + "?");
        }

        @Test
        @DisplayName("a misspelled URL parameter fails the connect with the parameter meant")
        void parameterTypo() {
            assertThatThrownBy(() -> Courier.connect("mem://typo-" + UUID.randomUUID() + "?retension=5"))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("URL parameter 'retension'")
                    .hasMessageContaining("did you mean retention?");
        }

        @Test
        @DisplayName("keys of bindings not in use are accepted: a shared file may configure several brokers")
        void otherBindingsAccepted() {
            CourierConfig config = CourierConfig.builder().withoutEnvironment().url("mem://shared-" + UUID.randomUUID() + "?retention=5")
                    .set("courier.kafka.retry-topic.treshold", "5m")
                    .set("courier.nats.mdoe", "core")
                    .set("courier.rabbitmq.prefech", "10")
                    .set(MemoryBindingProvider.KEEP, "false")
                    .build();
            try (Courier courier = Courier.connect(config)) {
                assertThat(courier.isClosed()).isFalse();
            }
        }
    }
}
