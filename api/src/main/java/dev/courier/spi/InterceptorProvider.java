package dev.courier.spi;

import dev.courier.CourierConfig;
import dev.courier.Interceptor;

import java.util.Optional;

/**
 * Installs an interceptor from configuration alone, found with {@link java.util.ServiceLoader}
 * (register the implementation in {@code META-INF/services/dev.courier.spi.InterceptorProvider}).
 * When a {@link dev.courier.Courier} is built, every provider whose {@link #enabled} says so adds
 * its {@link #create interceptor} after the ones added explicitly, unless an explicitly added
 * interceptor is already an instance of {@link #type()}: code wins over configuration.
 *
 * <p>The courier-reliability module uses it so that {@code courier.reliability.*} keys alone turn
 * on the retry, circuit-breaker and idempotency policy. Implementations must be thread-safe and
 * have a public no-argument constructor.
 *
 * <p>Resources: an interceptor created here belongs to the Courier. If it implements
 * {@link AutoCloseable}, the Courier closes it when it closes (last, after its subscriptions were
 * drained and the connection closed), or when the Courier fails to open. Interceptors added
 * explicitly to the builder are never closed by the Courier: their creator owns them.
 */
public interface InterceptorProvider {

    /** The interceptor class this provider creates; an explicit instance of it replaces the provider's. */
    Class<? extends Interceptor> type();

    /**
     * The keys this provider reads, if it has a namespace of its own (the reliability layer's
     * {@code courier.reliability.}): Courier checks them whenever the provider is on the classpath,
     * enabled or not, before {@link #enabled}, so a misspelled key is refused rather than taken as
     * "a key is set". Default: none declared, nothing checked.
     */
    default Optional<ConfigKeys> configKeys() {
        return Optional.empty();
    }

    /** Whether {@code config} asks for this interceptor. */
    boolean enabled(CourierConfig config);

    /**
     * Creates the interceptor from {@code config}; one that is {@link AutoCloseable} is closed with the Courier.
     *
     * @throws dev.courier.ConfigurationException naming the key and value that are invalid
     */
    Interceptor create(CourierConfig config);
}
