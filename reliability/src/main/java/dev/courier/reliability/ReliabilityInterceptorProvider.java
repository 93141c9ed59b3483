package dev.courier.reliability;

import dev.courier.CourierConfig;
import dev.courier.Interceptor;
import dev.courier.spi.ConfigKeys;
import dev.courier.spi.InterceptorProvider;

import java.util.Optional;

/**
 * Installs {@link Reliability#fromConfig(CourierConfig)} in every Courier whose configuration sets
 * {@code courier.reliability.enabled=true} or any other {@code courier.reliability.*} key, unless a
 * {@link Reliability} was added to the builder explicitly. Found with {@link java.util.ServiceLoader}.
 * A {@code courier.reliability.*} key the policy does not read is refused whenever this module is
 * on the classpath, whether the policy is on or not.
 */
public final class ReliabilityInterceptorProvider implements InterceptorProvider {

    @Override
    public Class<? extends Interceptor> type() {
        return Reliability.class;
    }

    @Override
    public Optional<ConfigKeys> configKeys() {
        return Optional.of(ReliabilityConfig.KEYS);
    }

    @Override
    public boolean enabled(CourierConfig config) {
        return ReliabilityConfig.enabled(config);
    }

    @Override
    public Interceptor create(CourierConfig config) {
        return Reliability.fromConfig(config);
    }
}
