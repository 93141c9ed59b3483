package dev.courier.kafka;

import java.nio.ByteBuffer;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The consumer's default key deserializer: a {@link StringDeserializer} that also computes each
 * key's hash code while it makes the string. A string keeps its hash once computed, and the
 * coordinator hashes every key to find its lane (BY_KEY ordering) on the poll thread; here the
 * key's bytes are still in the cache of the thread that has just decoded them, there they no
 * longer are. Set {@code courier.kafka.consumer.key.deserializer} to use another one.
 */
public final class KeyDeserializer extends StringDeserializer {

    @Override
    public String deserialize(String topic, byte[] data) {
        return hashed(super.deserialize(topic, data));
    }

    @Override
    public String deserialize(String topic, Headers headers, ByteBuffer data) {
        return hashed(super.deserialize(topic, headers, data));
    }

    private static String hashed(String key) {
        if (key != null) {
            key.hashCode(); // cached in the string
        }
        return key;
    }
}
