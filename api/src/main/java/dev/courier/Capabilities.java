package dev.courier;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * What one binding guarantees. Immutable. A binding declares it honestly: what the broker cannot
 * do is left out and refused with a clear error, never emulated badly.
 */
public final class Capabilities {

    private final String binding;
    private final Set<Capability> declared;
    private final long maxPayloadBytes;

    private Capabilities(String binding, Set<Capability> declared, long maxPayloadBytes) {
        this.binding = binding;
        this.declared = declared;
        this.maxPayloadBytes = maxPayloadBytes;
    }

    /** Declares {@code capabilities} for the binding called {@code binding}. */
    public static Capabilities of(String binding, long maxPayloadBytes, Capability... capabilities) {
        EnumSet<Capability> set = EnumSet.noneOf(Capability.class);
        Collections.addAll(set, capabilities);
        return new Capabilities(Objects.requireNonNull(binding, "binding"), Collections.unmodifiableSet(set), maxPayloadBytes);
    }

    /** The binding's short name, e.g. {@code kafka}. */
    public String binding() {
        return binding;
    }

    public boolean supports(Capability capability) {
        return declared.contains(capability);
    }

    public Set<Capability> all() {
        return declared;
    }

    /** Largest payload the binding accepts with its default configuration. */
    public long maxPayloadBytes() {
        return maxPayloadBytes;
    }

    /** Throws a {@link ConfigurationException} naming the binding if it lacks {@code capability}. */
    public void require(Capability capability, String forWhat) {
        if (!supports(capability)) {
            throw new ConfigurationException(forWhat + " needs " + capability + " (" + capability.description()
                    + "), which the " + binding + " binding does not provide; see docs/capabilities.md");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Capabilities c && c.binding.equals(binding) && c.declared.equals(declared) && c.maxPayloadBytes == maxPayloadBytes;
    }

    @Override
    public int hashCode() {
        return Objects.hash(binding, declared, maxPayloadBytes);
    }

    @Override
    public String toString() {
        return binding + declared;
    }
}
