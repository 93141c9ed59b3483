package dev.courier.kafka;

import dev.courier.Capabilities;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.ConfigKeys;

import java.util.List;
import java.util.Set;

/** The {@code kafka://host:port[,host:port...]} binding; see docs/bindings/kafka.md. */
public final class KafkaBindingProvider implements BindingProvider {

    @Override
    public String name() {
        return "kafka";
    }

    @Override
    public Set<String> schemes() {
        return Set.of("kafka");
    }

    @Override
    public List<Capabilities> declaredCapabilities() {
        return List.of(KafkaBinding.CAPABILITIES);
    }

    @Override
    public ConfigKeys configKeys() {
        return KafkaSettings.KEYS;
    }

    @Override
    public Binding open(BindingContext context) {
        return new KafkaBinding(context);
    }
}
