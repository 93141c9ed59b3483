package dev.courier;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The envelope every binding carries: id, topic, optional key, headers, payload bytes, content
 * type and timestamp. Immutable and thread-safe: {@link #payload()} returns a copy, and
 * {@link #toBuilder()} starts a modified copy. The one exception is a payload set with
 * {@link Builder#payloadOwned(byte[])}, whose caller promises not to modify the array.
 *
 * <p>The key decides ordering: with {@link Ordering#BY_KEY} messages of one key are handled one at
 * a time, in publish order (on Kafka it is the record key and picks the partition; on RabbitMQ it
 * is the routing key; on NATS a header).
 */
public final class Message {

    /** The payload of a message built without one: empty, so nothing can change it. */
    private static final byte[] NO_BYTES = new byte[0];

    private final String id;
    private final String topic;
    private final String key;
    private final Headers headers;
    private final byte[] payload;
    private final String contentType;
    private final Instant timestamp;

    private Message(Builder b) {
        this.topic = Destinations.checkTopic(b.topic);
        this.id = b.id != null ? b.id : newId();
        this.key = b.key;
        this.headers = b.headers;
        this.payload = b.payload;
        this.contentType = b.contentType;
        // milliseconds, as the brokers keep them; Instant.now() also costs several times as much on JDK 17
        this.timestamp = b.timestamp != null ? b.timestamp : Instant.ofEpochMilli(System.currentTimeMillis());
    }

    /**
     * A random (version 4) UUID string. Drawn from {@link ThreadLocalRandom} rather than
     * {@link UUID#randomUUID()}'s SecureRandom: ids must be unique, not unpredictable, and this
     * runs once per published message.
     */
    public static String newId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (r.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48);
        return new UUID(msb, lsb).toString();
    }

    /** A builder for a message to {@code topic}. */
    public static Builder builder(String topic) {
        return new Builder(topic);
    }

    /** Unique id; generated when not set. Brokers that deduplicate (JetStream) use it. */
    public String id() {
        return id;
    }

    public String topic() {
        return topic;
    }

    /** The ordering key, or {@code null}. */
    public String key() {
        return key;
    }

    public Headers headers() {
        return headers;
    }

    /** Shortcut for {@code headers().get(name)}. */
    public String header(String name) {
        return headers.get(name);
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** A read-only view of the payload, without copying. */
    public ByteBuffer payloadBuffer() {
        return ByteBuffer.wrap(payload).asReadOnlyBuffer();
    }

    public int payloadSize() {
        return payload.length;
    }

    /** MIME type of the payload, e.g. {@code application/json}; never null. */
    public String contentType() {
        return contentType;
    }

    /** When the message was built, to the millisecond, unless {@link Builder#timestamp(Instant)} set another. */
    public Instant timestamp() {
        return timestamp;
    }

    public Builder toBuilder() {
        Builder b = new Builder(topic);
        b.id = id;
        b.key = key;
        b.headers = headers;
        b.payload = payload;
        b.contentType = contentType;
        b.timestamp = timestamp;
        return b;
    }

    /** The same message addressed to another topic (used for dead letters and redrive). */
    public Message withTopic(String newTopic) {
        return toBuilder().topic(newTopic).build();
    }

    /** Internal access to the bytes without a copy; callers must not modify the array. Bindings reach it through {@code spi.Payloads}. */
    byte[] payloadArray() {
        return payload;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Message m && id.equals(m.id) && topic.equals(m.topic) && Objects.equals(key, m.key)
                && headers.equals(m.headers) && Arrays.equals(payload, m.payload)
                && contentType.equals(m.contentType) && timestamp.equals(m.timestamp);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, topic, key);
    }

    @Override
    public String toString() {
        return "Message{id=" + id + ", topic=" + topic + (key != null ? ", key=" + key : "")
                + ", contentType=" + contentType + ", payload=" + payload.length + " bytes, headers=" + headers + '}';
    }

    /** Builds a {@link Message}. Not thread-safe; build() validates the topic. */
    public static final class Builder {
        private String topic;
        private String id;
        private String key;
        private Headers headers = Headers.empty();
        private byte[] payload = NO_BYTES;
        private String contentType = ContentTypes.OCTET_STREAM;
        private Instant timestamp;

        private Builder(String topic) {
            this.topic = topic;
        }

        public Builder topic(String topic) {
            this.topic = topic;
            return this;
        }

        public Builder id(String id) {
            if (id != null && id.isEmpty()) {
                throw new IllegalArgumentException("message id must be non-empty when set");
            }
            this.id = id;
            return this;
        }

        public Builder key(String key) {
            this.key = key;
            return this;
        }

        public Builder headers(Headers headers) {
            this.headers = Objects.requireNonNull(headers, "headers");
            return this;
        }

        public Builder header(String name, String value) {
            this.headers = headers.with(name, value);
            return this;
        }

        /**
         * Sets the payload; the array is copied, so the caller may reuse it at once. To hand over a
         * fresh array without the copy, see {@link #payloadOwned(byte[])}.
         */
        public Builder payload(byte[] payload) {
            this.payload = Objects.requireNonNull(payload, "payload").clone();
            return this;
        }

        /**
         * Sets the payload without copying it: the message takes the array over. For a caller that
         * hands over an array it just made (a serializer's output, a buffer filled for this message)
         * and will not touch again; it saves the copy {@link #payload(byte[])} makes, which at 1 KiB
         * was the largest per-publish cost on Kafka.
         *
         * <p>The array must not be modified after the call; Courier and the broker client may read it
         * until the publish completes (and a {@link CourierListener} or interceptor that keeps the
         * message may read it later). Reusing or refilling the array for the next message can send
         * that message's bytes under this message's id. When in doubt, use {@link #payload(byte[])}.
         *
         * @throws NullPointerException if payload is null
         */
        public Builder payloadOwned(byte[] payload) {
            this.payload = Objects.requireNonNull(payload, "payload");
            return this;
        }

        public Builder contentType(String contentType) {
            this.contentType = Objects.requireNonNull(contentType, "contentType");
            return this;
        }

        public Builder timestamp(Instant timestamp) {
            this.timestamp = timestamp;
            return this;
        }

        public Message build() {
            return new Message(this);
        }
    }
}
