package dev.courier.mem;

import dev.courier.Capabilities;
import dev.courier.ConfigurationException;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BrokerUrl;
import dev.courier.spi.ConfigKeys;

import java.util.List;
import java.util.Set;

/**
 * The in-memory broker, {@code mem://[name][?retention=N&keep=true]}: a real broker inside the
 * JVM, for samples, development and tests. Couriers with the same name share one broker;
 * {@code mem://} is the broker called {@code default}. Messages live as long as the broker: not
 * across JVM restarts (so {@link dev.courier.Capability#PERSISTENCE} is not declared).
 *
 * <p>Options (URL parameter, or config key {@code courier.mem.<option>}): {@code retention},
 * messages kept per topic (default {@value #DEFAULT_RETENTION}); {@code keep}, keep the broker
 * after its last Courier closed (default false). Any other {@code courier.mem.*} key or URL
 * parameter is refused when a Courier connects to {@code mem://}.
 */
public final class MemoryBindingProvider implements BindingProvider {

    /** Messages kept per topic by default. */
    public static final int DEFAULT_RETENTION = 100_000;
    /** Messages kept per topic ({@code ?retention=} wins). */
    public static final String RETENTION = "courier.mem.retention";
    /** Keep the broker after its last Courier closed ({@code ?keep=} wins). */
    public static final String KEEP = "courier.mem.keep";

    @Override
    public String name() {
        return "mem";
    }

    @Override
    public Set<String> schemes() {
        return Set.of("mem");
    }

    @Override
    public List<Capabilities> declaredCapabilities() {
        return List.of(MemoryBinding.CAPABILITIES);
    }

    /** {@code courier.mem.retention} and {@code keep}, also as URL parameters without the prefix; anything else there is refused. */
    @Override
    public ConfigKeys configKeys() {
        return ConfigKeys.of("courier.mem.", List.of(RETENTION, KEEP)).urlParameters(ConfigKeys.UrlParameters.SHORT_KEYS);
    }

    /** Reads {@code keep} with the words {@link dev.courier.CourierConfig#booleanValue} accepts; anything else is refused, not taken for false. */
    private static boolean keepValue(String raw) {
        return switch (raw.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new ConfigurationException("mem keep '" + raw + "' is not a boolean; use true or false");
        };
    }

    @Override
    public Binding open(BindingContext context) {
        BrokerUrl url = context.url();
        String name = !url.hosts().isEmpty() ? url.hosts().get(0).host() : (url.path().isEmpty() ? "default" : url.path());
        String retentionRaw = url.param("retention", context.config().find(RETENTION).orElse(null));
        int retention = DEFAULT_RETENTION;
        if (retentionRaw != null) {
            try {
                retention = Integer.parseInt(retentionRaw.trim());
            } catch (NumberFormatException e) {
                retention = -1;
            }
            if (retention < 1) {
                throw new ConfigurationException("mem retention '" + retentionRaw + "' is invalid; use a whole number of messages >= 1");
            }
        }
        String keepRaw = url.param("keep", context.config().find(KEEP).orElse(null));
        boolean keep = keepRaw != null && keepValue(keepRaw);
        return new MemoryBinding(MemoryBroker.acquire(name, retention, retentionRaw != null, keep, keepRaw != null), context);
    }
}
