package dev.courier.internal;

import dev.courier.ConfigurationException;
import dev.courier.spi.BindingProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * Finds bindings with {@link ServiceLoader} by URL scheme. Each provider is instantiated on its own,
 * so one broken binding on the classpath is reported and does not hide the others. A scheme with
 * no binding fails with the Maven artifact to add.
 */
public final class BindingRegistry {

    private static final Logger log = LoggerFactory.getLogger(BindingRegistry.class);

    /** Scheme to the artifact that serves it, for the error message when it is missing. */
    private static final Map<String, String> KNOWN = Map.of(
            "kafka", "courier-kafka",
            "amqp", "courier-rabbitmq",
            "amqps", "courier-rabbitmq",
            "nats", "courier-nats",
            "tls", "courier-nats",
            "mem", "courier-api");

    private BindingRegistry() {
    }

    /** The provider for {@code scheme}, or a {@link ConfigurationException} that says what to add. */
    public static BindingProvider forScheme(String scheme, String maskedUrl) {
        Map<String, BindingProvider> found = discover();
        BindingProvider p = found.get(scheme);
        if (p != null) {
            return p;
        }
        String artifact = KNOWN.get(scheme);
        if (artifact != null) {
            throw new ConfigurationException("no Courier binding for '" + scheme + "://' is on the classpath (URL " + maskedUrl
                    + "). Add the dependency dev.courier:" + artifact + " (see docs/bindings.md#" + scheme + ")");
        }
        throw new ConfigurationException("unknown URL scheme '" + scheme + "' in " + maskedUrl + "; schemes available here: "
                + new TreeSet<>(found.keySet()) + "; all Courier schemes: " + new TreeSet<>(KNOWN.keySet())
                + " (see docs/bindings.md)");
    }

    /** Every provider that could be instantiated, by scheme. */
    public static Map<String, BindingProvider> discover() {
        Map<String, BindingProvider> out = new LinkedHashMap<>();
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        if (cl == null) {
            cl = BindingRegistry.class.getClassLoader();
        }
        Iterator<BindingProvider> it = ServiceLoader.load(BindingProvider.class, cl).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                BindingProvider p = it.next();
                for (String s : p.schemes()) {
                    out.putIfAbsent(s, p);
                }
            } catch (ServiceConfigurationError | LinkageError e) {
                log.error("a Courier binding on the classpath could not be loaded and is ignored: {}", e.toString());
            }
        }
        return out;
    }
}
