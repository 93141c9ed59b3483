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
     * {@code explicit} followed by the interceptor of every enabled provider whose type is not
     * already among {@code explicit}. A provider that cannot be loaded is logged and skipped; one
     * whose configuration is invalid fails with its {@link dev.courier.ConfigurationException}.
     */
    public static List<Interceptor> withConfigured(List<Interceptor> explicit, CourierConfig config) {
        List<Interceptor> out = new ArrayList<>(explicit);
        for (InterceptorProvider p : discover()) {
            boolean present = explicit.stream().anyMatch(i -> p.type().isInstance(i));
            if (p.enabled(config) && !present) {
                Interceptor i = p.create(config);
                log.info("installed {} from configuration", i);
                out.add(i);
            } else if (p.enabled(config)) {
                log.debug("{} configured but added explicitly too; the explicit one is used", p.type().getName());
            }
        }
        return out;
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
