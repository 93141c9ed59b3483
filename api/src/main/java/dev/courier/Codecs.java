package dev.courier;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.courier.internal.BytesCodec;
import dev.courier.internal.JsonCodec;
import dev.courier.internal.TextCodec;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The codecs of one {@link Courier}: picks the encoder by the payload's type (byte[] raw, String
 * UTF-8 text, anything else JSON unless a registered codec claims it) and the decoder by the
 * message's content type. Thread-safe.
 *
 * <p>An untyped {@link Delivery#payload()} resolves the class named in the
 * {@value HeaderNames#PAYLOAD_TYPE} header only if it lies in a trusted package (see
 * {@link CourierConfig#TRUSTED_PACKAGES}); otherwise JSON decodes to maps, lists and scalars. A
 * header chosen by a sender never makes Courier load an arbitrary class.
 */
public final class Codecs {

    private final List<Codec> custom = new CopyOnWriteArrayList<>();
    private final Map<String, Codec> byContentType = new ConcurrentHashMap<>();
    private final Codec json;
    private final Codec text = new TextCodec();
    private final Codec bytes = new BytesCodec();
    private final List<String> trustedPackages;

    public Codecs(ObjectMapper mapper, List<String> trustedPackages) {
        this.json = new JsonCodec(mapper);
        this.trustedPackages = List.copyOf(trustedPackages);
        byContentType.put(base(json.contentType()), json);
        byContentType.put(base(text.contentType()), text);
        byContentType.put(base(bytes.contentType()), bytes);
    }

    /** Codecs with a default Jackson mapper (java.time support, unknown properties ignored). */
    public static Codecs defaults() {
        return new Codecs(defaultObjectMapper(), List.of());
    }

    /** The mapper Courier uses unless told otherwise. */
    public static ObjectMapper defaultObjectMapper() {
        return new ObjectMapper()
                .registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    }

    /** Adds a codec; it is preferred over the built-ins for the types it claims. */
    public Codecs register(Codec codec) {
        custom.add(0, Objects.requireNonNull(codec, "codec"));
        byContentType.put(base(codec.contentType()), codec);
        return this;
    }

    /** The codec that will encode {@code value}. */
    public Codec encoderFor(Object value) {
        Class<?> type = value.getClass();
        for (Codec c : custom) {
            if (c.canEncode(type)) {
                return c;
            }
        }
        if (value instanceof byte[]) {
            return bytes;
        }
        if (value instanceof String) {
            return text;
        }
        return json;
    }

    /** The codec for {@code contentType}, or {@code null} if none is registered. */
    public Codec decoderFor(String contentType) {
        return byContentType.get(base(contentType));
    }

    /** Builds a message for {@code topic} with {@code payload} encoded; the builder can add key and headers. */
    public Message.Builder encode(String topic, Object payload) {
        Objects.requireNonNull(payload, "payload must not be null; publish an empty byte[] for an empty message");
        Message.Builder b = Message.builder(topic);
        if (payload instanceof byte[] raw) {
            return b.payload(raw).contentType(bytes.contentType());
        }
        Codec codec = encoderFor(payload);
        byte[] encoded = codec.encode(payload, b::header);
        return b.payloadOwned(encoded).contentType(codec.contentType());
    }

    /** Decodes the payload of {@code message} as {@code type}. */
    public <T> T decode(Message message, Class<T> type) {
        Objects.requireNonNull(type, "type");
        byte[] raw = message.payloadArray();
        if (type == byte[].class) {
            return type.cast(raw.clone());
        }
        Codec codec = decoderFor(message.contentType());
        if (codec == null) {
            throw new CodecException("no codec for content type '" + message.contentType() + "' of message "
                    + message.id() + " on '" + message.topic() + "'; register one with Codecs.register(...)", null);
        }
        return codec.decode(raw, type, message.headers());
    }

    /** Decodes with the type named in the message's headers when trusted, else as generic JSON / text / bytes. */
    public Object decode(Message message) {
        String typeName = message.header(HeaderNames.PAYLOAD_TYPE);
        if (typeName != null && isTrusted(typeName)) {
            try {
                Class<?> type = Class.forName(typeName, false, Thread.currentThread().getContextClassLoader());
                return decode(message, type);
            } catch (ClassNotFoundException e) {
                // fall through to a generic decode: the consumer may not have the producer's classes
            }
        }
        Codec codec = decoderFor(message.contentType());
        if (codec == bytes || codec == null) {
            return message.payload();
        }
        if (codec == text) {
            return decode(message, String.class);
        }
        return decode(message, Object.class);
    }

    private boolean isTrusted(String className) {
        for (String p : trustedPackages) {
            if (p.equals("*") || className.startsWith(p.endsWith(".") ? p : p + ".")) {
                return true;
            }
        }
        return false;
    }

    private static String base(String contentType) {
        if (contentType == null) {
            return "";
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(java.util.Locale.ROOT);
    }
}
