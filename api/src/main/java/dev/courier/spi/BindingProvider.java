package dev.courier.spi;

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
     * Connects to the broker. Must fail fast, within the configured connect timeout, with a
     * {@link dev.courier.BrokerUnavailableException} or {@link dev.courier.ConfigurationException}
     * whose message shows the URL with its password masked.
     */
    Binding open(BindingContext context);
}
