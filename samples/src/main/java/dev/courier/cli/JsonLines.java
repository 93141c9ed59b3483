package dev.courier.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Delivery;
import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.PublishReceipt;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/** The JSON the CLI prints: one object per line, for messages and publish receipts. */
final class JsonLines {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonLines() {
    }

    /** A delivered message: id, topic, key, headers, content type, timestamp, payload, attempt, position. */
    static String delivery(Delivery d) {
        Map<String, Object> m = message(d.message());
        m.put("group", d.group());
        m.put("attempt", d.attempt());
        m.put("redelivered", d.metadata().redelivered());
        m.put("position", position(d.metadata()));
        return write(m);
    }

    /** A message on its own (a reply, a dead letter read back). */
    static Map<String, Object> message(Message msg) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", msg.id());
        m.put("topic", msg.topic());
        m.put("key", msg.key());
        m.put("headers", msg.headers().asMap());
        m.put("contentType", msg.contentType());
        m.put("timestamp", msg.timestamp().toString());
        byte[] payload = msg.payload();
        String text = MessageOptions.utf8(payload);
        if (text != null) {
            m.put("payload", text);
            m.put("payloadEncoding", "utf-8");
        } else {
            m.put("payload", Base64.getEncoder().encodeToString(payload));
            m.put("payloadEncoding", "base64");
        }
        return m;
    }

    static String receipt(PublishReceipt r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", r.messageId());
        m.put("topic", r.topic());
        m.put("position", position(r.position()));
        m.put("duplicate", r.duplicate());
        return write(m);
    }

    /** The position fields the broker reported: partition and offset, sequence or delivery tag. */
    static Map<String, Object> position(DeliveryMetadata md) {
        Map<String, Object> p = new LinkedHashMap<>();
        md.partition().ifPresent(v -> p.put("partition", v));
        md.offset().ifPresent(v -> p.put("offset", v));
        md.sequence().ifPresent(v -> p.put("sequence", v));
        md.deliveryTag().ifPresent(v -> p.put("deliveryTag", v));
        return p;
    }

    static String write(Map<String, Object> m) {
        try {
            return MAPPER.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render JSON: " + e.getMessage(), e);
        }
    }
}
