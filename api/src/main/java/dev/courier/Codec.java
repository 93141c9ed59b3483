package dev.courier;

/**
 * Turns payload objects into bytes and back. Implementations must be thread-safe and stateless
 * per call. Register extra codecs with {@link Codecs#register(Codec)}; the built-ins are JSON
 * (Jackson), raw bytes and UTF-8 text.
 */
public interface Codec {

    /** The content type this codec writes and reads, e.g. {@code application/json}. */
    String contentType();

    /** Whether this codec can encode values of {@code type}. */
    boolean canEncode(Class<?> type);

    /**
     * Encodes {@code value}. May add headers to {@code headers} (the JSON codec records the type
     * so typed payloads round-trip).
     *
     * @throws CodecException if the value cannot be encoded
     */
    byte[] encode(Object value, HeaderSink headers);

    /**
     * Decodes {@code bytes} into {@code type}.
     *
     * @throws CodecException if the bytes are not a valid {@code type}
     */
    <T> T decode(byte[] bytes, Class<T> type, Headers headers);

    /** Receives headers a codec wants to add while encoding. */
    @FunctionalInterface
    interface HeaderSink {
        void put(String name, String value);
    }
}
