package dev.courier.testkit;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class CapabilityTableTest {

    private static BindingProvider provider(String name, Capabilities... modes) {
        return new BindingProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Set<String> schemes() {
                return Set.of(name);
            }

            @Override
            public List<Capabilities> declaredCapabilities() {
                return List.of(modes);
            }

            @Override
            public Binding open(BindingContext context) {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Test
    void oneRowPerCapabilityAndOneColumnPerDeclaredMode() {
        String table = CapabilityTable.render(List.of(
                provider("nats", Capabilities.of("nats (JetStream)", 1024 * 1024, Capability.PERSISTENCE, Capability.REDELIVERY),
                        Capabilities.of("nats (core)", 1024 * 1024, Capability.BROADCAST)),
                provider("kafka", Capabilities.of("kafka", 1_000_000, Capability.PERSISTENCE))));

        assertThat(table).contains("| Capability | Guarantee | kafka | nats (JetStream) | nats (core) |");
        assertThat(table).contains("| `PERSISTENCE` | " + Capability.PERSISTENCE.description() + " | yes | yes | no |");
        assertThat(table).contains("| `BROADCAST` | " + Capability.BROADCAST.description() + " | no | no | yes |");
        assertThat(table).contains("| Largest payload | With the default configuration. | 1 MB | 1 MiB | 1 MiB |");
        for (Capability c : Capability.values()) {
            assertThat(table).contains("| `" + c.name() + "` |");
        }
        assertThat(table).contains(CapabilityTable.REGENERATE);
    }

    @Test
    void discoversTheBindingsOnTheClassPath() {
        String table = CapabilityTable.render();
        assertThat(table).contains("| mem |").contains("| limited |");
    }

    @Test
    void sizes() {
        assertThat(CapabilityTable.size(64L * 1024 * 1024)).isEqualTo("64 MiB");
        assertThat(CapabilityTable.size(128 * 1024)).isEqualTo("128 KiB");
        assertThat(CapabilityTable.size(1_000_000)).isEqualTo("1 MB");
        assertThat(CapabilityTable.size(1234)).isEqualTo("1234 bytes");
        assertThat(CapabilityTable.size(Long.MAX_VALUE)).isEqualTo("unbounded");
    }
}
