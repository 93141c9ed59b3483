package dev.courier.samples.saga;

import dev.courier.Capabilities;
import dev.courier.CourierConfig;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.mem.MemoryBindingProvider;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * The saga's services change their state (stock reserved, customer charged, order ended) and then
 * publish the event that says so. When that publish fails once (a broker that did not confirm in
 * time: what the saga's retry policy is there for), the handler throws and the policy runs it again;
 * the service then finds its state changed already and must publish the event it kept again, or
 * the order never ends.
 *
 * <p>The failure comes from a binding that wraps {@code mem://} and fails the first publish to one
 * topic of the saga with a retriable {@link PublishException}; everything else is the mem broker.
 * It is registered through the thread's context class loader (ServiceLoader).
 */
public class SagaPublishFailureTest {

    /** Topic suffix whose first publish fails; set per test. */
    static volatile String failFirstPublishTo = "";
    static final Set<String> failedOnce = ConcurrentHashMap.newKeySet();

    @ParameterizedTest(name = "one failed publish to ''{0}'' does not lose an order")
    @ValueSource(strings = {".inventory", ".payments", ".outcomes"})
    @DisplayName("saga survives one transient publish failure of a service's event")
    void sagaSurvivesOneTransientPublishFailure(String topicSuffix) throws Exception {
        failFirstPublishTo = topicSuffix;
        failedOnce.clear();
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        Thread.currentThread().setContextClassLoader(withFlakyBinding(previous));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            CourierConfig config = CourierConfig.builder().withoutEnvironment()
                    .url("flaky://saga-publish-failure-" + topicSuffix.substring(1))
                    .set(SagaSample.TIMEOUT, "15s").build();
            assertThatCode(() -> {
                SagaSample.Summary s = SagaSample.run(config, new PrintStream(buf, true, StandardCharsets.UTF_8));
                assertThat(s.allSettled()).isTrue();
                assertThat(s.completed()).isEqualTo(3);
                assertThat(s.notificationsSent()).isEqualTo(5);
            }).as(() -> "the failure was injected (" + failedOnce + ") and the saga must still finish; timeline:\n"
                    + buf.toString(StandardCharsets.UTF_8)).doesNotThrowAnyException();
            assertThat(failedOnce).as("the injected failure happened").isNotEmpty();
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }

    /** A class loader that adds {@link FlakyProvider} to the BindingProvider services. */
    private static ClassLoader withFlakyBinding(ClassLoader parent) throws IOException {
        Path services = Files.createTempFile("flaky-binding", ".services");
        Files.writeString(services, FlakyProvider.class.getName() + "\n");
        URL extra = services.toUri().toURL();
        String name = "META-INF/services/" + BindingProvider.class.getName();
        return new ClassLoader(parent) {
            @Override
            public Enumeration<URL> getResources(String resource) throws IOException {
                List<URL> all = Collections.list(super.getResources(resource));
                if (resource.equals(name)) {
                    all = new ArrayList<>(all);
                    all.add(extra);
                }
                return Collections.enumeration(all);
            }
        };
    }

    /** {@code flaky://name}: the mem broker {@code name}, except that the first publish to one topic fails. */
    public static final class FlakyProvider implements BindingProvider {
        private final MemoryBindingProvider mem = new MemoryBindingProvider();

        public FlakyProvider() {
        }

        @Override
        public String name() {
            return "flaky";
        }

        @Override
        public Set<String> schemes() {
            return Set.of("flaky");
        }

        @Override
        public List<Capabilities> declaredCapabilities() {
            return mem.declaredCapabilities();
        }

        @Override
        public Binding open(BindingContext context) {
            return new FlakyBinding(mem.open(context));
        }
    }

    static final class FlakyBinding implements Binding {
        private final Binding delegate;

        FlakyBinding(Binding delegate) {
            this.delegate = delegate;
        }

        private PublishException failure(Message m) {
            String suffix = failFirstPublishTo;
            if (!suffix.isEmpty() && m.topic().endsWith(suffix) && failedOnce.add(m.topic())) {
                return new PublishException(m.topic(), "the broker did not confirm in time (injected, once)", null, true);
            }
            return null;
        }

        @Override
        public Capabilities capabilities() {
            return delegate.capabilities();
        }

        @Override
        public CompletionStage<PublishReceipt> publish(Message message) {
            PublishException e = failure(message);
            return e != null ? CompletableFuture.failedFuture(e) : delegate.publish(message);
        }

        @Override
        public void publishInto(Message message, CompletableFuture<PublishReceipt> result) {
            PublishException e = failure(message);
            if (e != null) {
                result.completeExceptionally(e);
            } else {
                delegate.publishInto(message, result);
            }
        }

        @Override
        public boolean copiesPayloadOnPublish() {
            return delegate.copiesPayloadOnPublish();
        }

        @Override
        public boolean settlesPublishesWithin(Duration timeout) {
            return delegate.settlesPublishesWithin(timeout);
        }

        @Override
        public CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages) {
            for (Message m : messages) {
                PublishException e = failure(m);
                if (e != null) {
                    return CompletableFuture.failedFuture(e);
                }
            }
            return delegate.publishAll(messages);
        }

        @Override
        public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
            return delegate.subscribe(spec, processor);
        }

        @Override
        public BindingSubscription respond(Subscribe spec, DeliveryProcessor processor) {
            return delegate.respond(spec, processor);
        }

        @Override
        public CompletionStage<Message> request(Message request, Duration timeout) {
            return delegate.request(request, timeout);
        }

        @Override
        public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
            return delegate.reply(request, reply);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
