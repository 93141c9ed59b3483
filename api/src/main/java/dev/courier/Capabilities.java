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
    private final String mode;

    private Capabilities(String binding, Set<Capability> declared, long maxPayloadBytes, String mode) {
        this.binding = binding;
        this.declared = declared;
        this.maxPayloadBytes = maxPayloadBytes;
        this.mode = mode;
    }

    /** Declares {@code capabilities} for the binding called {@code binding}. */
    public static Capabilities of(String binding, long maxPayloadBytes, Capability... capabilities) {
        EnumSet<Capability> set = EnumSet.noneOf(Capability.class);
        Collections.addAll(set, capabilities);
        return new Capabilities(Objects.requireNonNull(binding, "binding"), Collections.unmodifiableSet(set), maxPayloadBytes, null);
    }

    /** The same declaration for one mode of a binding with several (e.g. NATS {@code jetstream} and {@code core}). */
    public Capabilities withMode(String mode) {
        return new Capabilities(binding, declared, maxPayloadBytes, Objects.requireNonNull(mode, "mode"));
    }

    /** The mode this declaration is for, or {@code null} for a binding with one mode. */
    public String mode() {
        return mode;
    }

    /** {@code binding} or {@code binding (mode)}, for tables and messages. */
    public String displayName() {
        return mode == null ? binding : binding + " (" + mode + ")";
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
        return o instanceof Capabilities c && c.binding.equals(binding) && c.declared.equals(declared) && c.maxPayloadBytes == maxPayloadBytes
                && Objects.equals(c.mode, mode);
    }

    @Override
    public int hashCode() {
        return Objects.hash(binding, declared, maxPayloadBytes, mode);
    }

    @Override
    public String toString() {
        return displayName() + declared;
    }
}
