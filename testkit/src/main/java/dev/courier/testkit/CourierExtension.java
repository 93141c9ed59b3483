package dev.courier.testkit;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Resolves {@link Courier} and {@link PublishedMessages} parameters for a test: one Courier per
 * test, connected to its own {@code mem://test-<uuid>} broker, observed by the recorder, and
 * closed after the test. Register it with {@link CourierTest} or {@code @ExtendWith}.
 */
public final class CourierExtension implements ParameterResolver, AfterEachCallback {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(CourierExtension.class);
    private static final String KEY = "connection";

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == Courier.class || type == PublishedMessages.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        if (context.getTestMethod().isEmpty()) {
            throw new ParameterResolutionException("a Courier is made per test; take it as a parameter of the test or of a "
                    + "@BeforeEach method, not of a constructor or @BeforeAll method");
        }
        Connection c = connection(context);
        return parameter.getParameter().getType() == Courier.class ? c.courier : c.published;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Connection c = context.getStore(NAMESPACE).remove(KEY, Connection.class);
        if (c != null) {
            c.courier.close();
        }
    }

    private static Connection connection(ExtensionContext context) {
        return context.getStore(NAMESPACE).getOrComputeIfAbsent(KEY, k -> open(context), Connection.class);
    }

    private static Connection open(ExtensionContext context) {
        Map<String, String> settings = new LinkedHashMap<>();
        annotation(context).ifPresent(a -> {
            for (String entry : a.config()) {
                int eq = entry.indexOf('=');
                if (eq <= 0) {
                    throw new ParameterResolutionException("@CourierTest(config) entries are key=value; '" + entry + "' is not");
                }
                settings.put(entry.substring(0, eq).trim(), entry.substring(eq + 1).trim());
            }
        });
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(settings)
                .url("mem://test-" + UUID.randomUUID()).build();
        PublishedMessages published = new PublishedMessages();
        Courier courier = Courier.builder().config(config).listener(published.listener()).connect();
        published.useCodecs(courier.codecs());
        return new Connection(courier, published);
    }

    private static Optional<CourierTest> annotation(ExtensionContext context) {
        Optional<CourierTest> onMethod = context.getTestMethod().flatMap(m -> AnnotationSupport.findAnnotation(m, CourierTest.class));
        if (onMethod.isPresent()) {
            return onMethod;
        }
        for (Optional<Class<?>> c = context.getTestClass(); c.isPresent(); c = Optional.ofNullable(c.get().getEnclosingClass())) {
            Optional<CourierTest> onClass = AnnotationSupport.findAnnotation(c.get(), CourierTest.class);
            if (onClass.isPresent()) {
                return onClass;
            }
        }
        return Optional.empty();
    }

    private record Connection(Courier courier, PublishedMessages published) {
    }
}
