package dev.courier.internal;

import dev.courier.CourierConfig;
import dev.courier.Interceptor;
import dev.courier.spi.InterceptorProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/** Adds the interceptors that {@link InterceptorProvider}s on the classpath install from configuration. */
public final class InterceptorProviders {

    private static final Logger log = LoggerFactory.getLogger(InterceptorProviders.class);

    private InterceptorProviders() {
    }

    /**
     * The chain of a Courier: {@code interceptors} in order, and the configured ones among them that
     * the Courier owns and closes ({@code owned}: those that are {@link AutoCloseable}).
     */
    public record Installed(List<Interceptor> interceptors, List<AutoCloseable> owned) {

        /** Closes every owned interceptor, logging failures; used when the Courier closes or fails to open. */
        public void closeOwned() {
            closeAll(owned);
        }
    }

    /**
     * {@code explicit} followed by the interceptor of every enabled provider whose type is not
     * already among {@code explicit}. The keys of every provider are checked first (a misspelled
     * one fails with a {@link dev.courier.ConfigurationException}, see {@link dev.courier.spi.ConfigKeys}). A provider that cannot be loaded is logged and skipped; one
     * whose configuration is invalid fails with its {@link dev.courier.ConfigurationException}
     * (after the configured interceptors created before it were closed).
     */
    public static Installed withConfigured(List<Interceptor> explicit, CourierConfig config) {
        List<Interceptor> out = new ArrayList<>(explicit);
        List<AutoCloseable> owned = new ArrayList<>();
        List<InterceptorProvider> providers = discover();
        warnIfUnread(config, providers);
        for (InterceptorProvider p : providers) {
            try {
                p.configKeys().ifPresent(keys -> keys.check(config, null));
            } catch (RuntimeException e) {
                closeAll(owned);
                throw e;
            }
            boolean present = explicit.stream().anyMatch(i -> p.type().isInstance(i));
            if (p.enabled(config) && !present) {
                Interceptor i;
                try {
                    i = p.create(config);
                } catch (RuntimeException e) {
                    closeAll(owned);
                    throw e;
                }
                log.info("installed {} from configuration", i);
                out.add(i);
                if (i instanceof AutoCloseable c) {
                    owned.add(c);
                }
            } else if (p.enabled(config)) {
                log.debug("{} configured but added explicitly too; the explicit one is used", p.type().getName());
            }
        }
        return new Installed(List.copyOf(out), List.copyOf(owned));
    }

    /** The reliability layer's namespace, and the artifact whose provider reads it. */
    private static final String RELIABILITY = "courier.reliability.";

    /**
     * Reliability settings without the module that reads them on the classpath would be ignored
     * without a word (a retry policy the application counts on, missing): a warning names them and
     * the dependency to add. Not an error: a configuration shared with services that do without the
     * module stays valid.
     */
    static void warnIfUnread(CourierConfig config, List<InterceptorProvider> providers) {
        boolean read = providers.stream().anyMatch(p -> p.configKeys().map(k -> RELIABILITY.startsWith(k.namespace())
                || k.namespace().startsWith(RELIABILITY)).orElse(false));
        if (read) {
            return;
        }
        java.util.Set<String> unread = config.withPrefix(RELIABILITY).keySet();
        if (!unread.isEmpty()) {
            log.warn("{} setting(s) under {}* ({}) have no effect: the module that reads them is not on the classpath; "
                    + "add the dependency dev.courier:courier-reliability", unread.size(), RELIABILITY, String.join(", ", unread));
        }
    }

    static void closeAll(List<AutoCloseable> owned) {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing the configured interceptor {} failed: {}", c, e.toString());
            }
        }
    }

    private static List<InterceptorProvider> discover() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        if (cl == null) {
            cl = InterceptorProviders.class.getClassLoader();
        }
        List<InterceptorProvider> out = new ArrayList<>();
        Iterator<InterceptorProvider> it = ServiceLoader.load(InterceptorProvider.class, cl).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                out.add(it.next());
            } catch (ServiceConfigurationError | LinkageError e) {
                log.error("a Courier interceptor provider on the classpath could not be loaded and is ignored: {}", e.toString());
            }
        }
        return out;
    }
}
