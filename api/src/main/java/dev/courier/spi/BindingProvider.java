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
     * The keys this binding reads under its namespace and how it reads its URL's parameters:
     * Courier checks them before {@link #open}, so a misspelled key of the binding in use is
     * refused with the key nearest to it (see {@link ConfigKeys}). Keys of bindings not in use are
     * never checked. The default, {@code courier.<name>.} {@link ConfigKeys#unchecked unchecked},
     * refuses nothing.
     */
    default ConfigKeys configKeys() {
        return ConfigKeys.unchecked("courier." + name() + ".");
    }

    /**
     * Connects to the broker. Must fail fast, within the configured connect timeout, with a
     * {@link dev.courier.BrokerUnavailableException} or {@link dev.courier.ConfigurationException}
     * whose message shows the URL with its password masked.
     */
    Binding open(BindingContext context);
}
