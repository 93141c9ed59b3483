package dev.courier.internal;

import dev.courier.CourierConfig;
import dev.courier.Interceptor;
import dev.courier.spi.ConfigKeys;
import dev.courier.spi.InterceptorProvider;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class InterceptorProvidersTest {

    private static CourierConfig config(String... keysAndValues) {
        CourierConfig.Builder b = CourierConfig.builder().withoutEnvironment().url("mem://");
        for (int i = 0; i < keysAndValues.length; i += 2) {
            b.set(keysAndValues[i], keysAndValues[i + 1]);
        }
        return b.build();
    }

    /** What {@code run} logs (slf4j-simple writes to standard error). */
    private static String logged(Runnable run) {
        PrintStream err = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            run.run();
        } finally {
            System.setErr(err);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A provider reading the reliability namespace, as the reliability module's does. */
    private static InterceptorProvider readingReliability() {
        return new InterceptorProvider() {
            @Override
            public Class<? extends Interceptor> type() {
                return Interceptor.class;
            }

            @Override
            public Optional<ConfigKeys> configKeys() {
                return Optional.of(ConfigKeys.of("courier.reliability.", List.of("courier.reliability.retry.attempts")));
            }

            @Override
            public boolean enabled(CourierConfig config) {
                return false;
            }

            @Override
            public Interceptor create(CourierConfig config) {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Test
    @DisplayName("reliability settings without the module that reads them are named in a warning with the dependency to add")
    void reliabilitySettingsWithoutTheModuleAreNamed() {
        CourierConfig c = config("courier.reliability.retry.attempts", "5");
        String log = logged(() -> InterceptorProviders.warnIfUnread(c, List.of()));
        assertThat(log).contains("WARN").contains("courier.reliability.*").contains("retry.attempts")
                .contains("dev.courier:courier-reliability");
    }

    @Test
    @DisplayName("no warning when the module is there, or when no reliability setting is given")
    void quietOtherwise() {
        assertThat(logged(() -> InterceptorProviders.warnIfUnread(config("courier.reliability.retry.attempts", "5"),
                List.of(readingReliability())))).doesNotContain("courier-reliability");
        assertThat(logged(() -> InterceptorProviders.warnIfUnread(config(), List.of()))).doesNotContain("courier-reliability");
    }
}
