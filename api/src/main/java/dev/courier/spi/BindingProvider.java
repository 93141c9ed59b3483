package dev.courier.spi;

import dev.courier.Capabilities;

import java.util.List;
import java.util.Set;

/**
 * Entry point of a binding, found with {@link java.util.ServiceLoader}: a binding jar lists its
 * provider in {@code META-INF/services/dev.courier.spi.BindingProvider}. Must have a public
 * no-argument constructor and be cheap to instantiate; the connection is made in {@link #open}.
 */
public interface BindingProvider {

    /** Short name, e.g. {@code kafka}. */
    String name();

    /** URL schemes this binding serves, lower case, e.g. {@code amqp}, {@code amqps}. */
    Set<String> schemes();

    /**
     * Every set of capabilities this binding can run with, one per mode (e.g. NATS JetStream and
     * core). {@link Binding#capabilities()} returns one of them. The documentation's capability
     * table is generated from this list.
     */
    List<Capabilities> declaredCapabilities();

    /**
     * Connects to the broker. Must fail fast, within the configured connect timeout, with a
     * {@link dev.courier.BrokerUnavailableException} or {@link dev.courier.ConfigurationException}
     * whose message shows the URL with its password masked.
     */
    Binding open(BindingContext context);
}
