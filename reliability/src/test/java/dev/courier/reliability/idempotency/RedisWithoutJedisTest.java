package dev.courier.reliability.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.CourierException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.function.Supplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Jedis is an optional dependency: without it the Redis store must say which dependency to add. */
class RedisWithoutJedisTest {

    /** Runs inside a class loader that has Courier but not Jedis; returns what connect() threw. */
    public static final class Probe implements Supplier<String> {
        @Override
        public String get() {
            try {
                RedisIdempotencyStore.connect("redis://127.0.0.1:6379").close();
                return "no error";
            } catch (Throwable e) {
                return e.getClass().getName() + ": " + e.getMessage();
            }
        }
    }

    @Test
    @DisplayName("without Jedis on the classpath, connect() fails with a ConfigurationException naming the dependency")
    @SuppressWarnings("unchecked")
    void missingJedis() throws Exception {
        URL[] courierOnly = {
            location(RedisIdempotencyStore.class), location(CourierException.class), location(Probe.class)
        };
        try (URLClassLoader loader = new URLClassLoader(courierOnly, ClassLoader.getPlatformClassLoader())) {
            assertThat(loader.getResource("redis/clients/jedis/RedisClient.class")).as("jedis hidden").isNull();
            Supplier<String> probe = (Supplier<String>) loader.loadClass(Probe.class.getName())
                    .getDeclaredConstructor().newInstance();
            assertThat(probe.get())
                    .startsWith("dev.courier.ConfigurationException: ")
                    .contains("redis.clients:jedis");
        }
    }

    private static URL location(Class<?> type) {
        return type.getProtectionDomain().getCodeSource().getLocation();
    }
}
