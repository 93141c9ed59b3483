package dev.courier.spi;

import dev.courier.Message;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Payload access for bindings without copying. {@link Message#payload()} returns a copy and
 * {@link Message.Builder#payload(byte[])} takes one, which keeps messages immutable for
 * applications; a binding that hands the bytes straight to its client (which copies or writes
 * them before the publish call returns) or that received a fresh array from its client does not
 * need either copy. At 1 KiB per message the two copies were most of what a Kafka publish
 * allocated.
 *
 * <p>Both methods trust the caller: the array must never be modified afterwards, by the binding or
 * by anyone it hands the array to. Thread-safe.
 */
public final class Payloads {

    private static final MethodHandle ARRAY;

    static {
        // Message keeps this package-private so applications cannot reach it; this class is in
        // the same module, where a private lookup is allowed (on the class path and as an automatic module)
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(Message.class, MethodHandles.lookup());
            ARRAY = lookup.findVirtual(Message.class, "payloadArray", MethodType.methodType(byte[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Payloads() {
    }

    /** The payload array of {@code message} itself, not a copy; read it, never modify it. */
    public static byte[] array(Message message) {
        try {
            return (byte[]) ARRAY.invokeExact(message);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sets {@code payload} on {@code builder} without copying it; the binding gives up the array
     * (for example a value its client just deserialized into a new array). The same as the public
     * {@link Message.Builder#payloadOwned(byte[])}.
     *
     * @throws NullPointerException if payload is null
     */
    public static Message.Builder owned(Message.Builder builder, byte[] payload) {
        return builder.payloadOwned(payload);
    }
}
