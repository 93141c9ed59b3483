package dev.courier.testkit;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.Message;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.mem.MemoryBindingProvider;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.BrokerUrl;
import dev.courier.spi.DeliveryProcessor;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * {@code limited://<name>}: the in-memory broker declaring only groups, broadcast and
 * at-least-once, so the suite's capability selection can be checked.
 */
public final class LimitedBindingProvider implements BindingProvider {

    static final Capabilities CAPABILITIES = Capabilities.of("limited", 1024 * 1024,
            Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.AT_LEAST_ONCE);

    @Override
    public String name() {
        return "limited";
    }

    @Override
    public Set<String> schemes() {
        return Set.of("limited");
    }

    @Override
    public List<Capabilities> declaredCapabilities() {
        return List.of(CAPABILITIES);
    }

    @Override
    public Binding open(BindingContext context) {
        BindingContext mem = new BindingContext(BrokerUrl.parse("mem://" + context.url().hosts().get(0).host()), context.config(),
                context.handlerExecutor(), context.scheduler());
        Binding inner = new MemoryBindingProvider().open(mem);
        return new Binding() {
            @Override
            public Capabilities capabilities() {
                return CAPABILITIES;
            }

            @Override
            public CompletionStage<PublishReceipt> publish(Message message) {
                return inner.publish(message);
            }

            @Override
            public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
                return inner.subscribe(spec, processor);
            }

            @Override
            public CompletionStage<Message> request(Message request, Duration timeout) {
                return inner.request(request, timeout);
            }

            @Override
            public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
                return inner.reply(request, reply);
            }

            @Override
            public void close() {
                inner.close();
            }
        };
    }
}
