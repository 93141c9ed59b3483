package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.LongString;
import dev.courier.ContentTypes;
import dev.courier.HeaderNames;
import dev.courier.Headers;
import dev.courier.Message;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * How a Courier {@link Message} is carried by AMQP: id as {@code message-id}, content type, the
 * timestamp (seconds in the property, milliseconds in {@code timestamp_in_ms}), headers as AMQP
 * string headers, the key as routing key and {@code courier-key} header, the correlation id and
 * reply address in their AMQP properties. Stateless.
 */
final class MessageMapping {

    /** Routing key of messages without a key. */
    static final String NO_KEY = "";

    private MessageMapping() {
    }

    static String routingKey(Message m) {
        String key = m.key();
        if (key == null) {
            return NO_KEY;
        }
        if (key.getBytes(StandardCharsets.UTF_8).length > Topology.MAX_NAME_BYTES) {
            throw new IllegalArgumentException("key is longer than AMQP's 255-byte routing key limit");
        }
        return key;
    }

    static AMQP.BasicProperties properties(Message m, boolean persistent) {
        Map<String, Object> headers = new LinkedHashMap<>();
        Integer priority = null;
        String expiration = null;
        for (Map.Entry<String, String> h : m.headers().asMap().entrySet()) {
            switch (h.getKey()) {
                case RabbitHeaders.MANDATORY -> { }
                case RabbitHeaders.PRIORITY -> priority = parsePriority(h.getValue());
                case RabbitHeaders.EXPIRATION -> expiration = parseExpiration(h.getValue());
                default -> headers.put(h.getKey(), h.getValue());
            }
        }
        if (m.key() != null) {
            headers.put(RabbitHeaders.KEY, m.key());
        }
        headers.put(RabbitHeaders.TIMESTAMP_MS, m.timestamp().toEpochMilli());
        return new AMQP.BasicProperties.Builder()
                .messageId(m.id())
                .contentType(m.contentType())
                .timestamp(Date.from(m.timestamp()))
                .deliveryMode(persistent ? 2 : 1)
                .correlationId(m.header(HeaderNames.CORRELATION_ID))
                .priority(priority)
                .expiration(expiration)
                .headers(headers)
                .build();
    }

    private static Integer parsePriority(String v) {
        try {
            int p = Integer.parseInt(v.trim());
            if (p >= 0 && p <= 255) {
                return p;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new IllegalArgumentException("header " + RabbitHeaders.PRIORITY + "=" + v + " is invalid; use 0 to 255");
    }

    private static String parseExpiration(String v) {
        try {
            long ms = Long.parseLong(v.trim());
            if (ms >= 0) {
                return Long.toString(ms);
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new IllegalArgumentException("header " + RabbitHeaders.EXPIRATION + "=" + v + " is invalid; use a number of milliseconds >= 0");
    }

    /** The Courier message of a delivery from {@code topic}. */
    static Message toMessage(String topic, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
        Map<String, String> headers = new LinkedHashMap<>();
        String key = null;
        Instant timestamp = props.getTimestamp() != null ? props.getTimestamp().toInstant() : null;
        Map<String, Object> amqpHeaders = props.getHeaders();
        if (amqpHeaders != null) {
            for (Map.Entry<String, Object> h : amqpHeaders.entrySet()) {
                String name = h.getKey();
                Object value = h.getValue();
                if (name == null || name.isEmpty() || value == null) {
                    continue;
                }
                if (name.equals(RabbitHeaders.KEY)) {
                    key = text(value);
                } else if (name.equals(RabbitHeaders.TIMESTAMP_MS)) {
                    if (value instanceof Number n) {
                        timestamp = Instant.ofEpochMilli(n.longValue());
                    }
                } else if (name.equals("x-death") || name.startsWith("x-first-death-") || name.startsWith("x-last-death-")) {
                    // the broker's bookkeeping of delay-queue hops; native access through unwrap(BasicProperties)
                    continue;
                } else if (value instanceof Map || value instanceof java.util.List) {
                    continue;
                } else {
                    headers.put(name, text(value));
                }
            }
        }
        if (key == null && envelope != null && topic.equals(envelope.getExchange()) && !envelope.getRoutingKey().isEmpty()) {
            key = envelope.getRoutingKey(); // a publisher outside Courier: the routing key is the key
        }
        if (props.getCorrelationId() != null) {
            headers.putIfAbsent(HeaderNames.CORRELATION_ID, props.getCorrelationId());
        }
        if (props.getReplyTo() != null) {
            headers.put(HeaderNames.REPLY_TO, props.getReplyTo());
        }
        if (props.getPriority() != null) {
            headers.put(RabbitHeaders.PRIORITY, props.getPriority().toString());
        }
        return Message.builder(topic)
                .id(props.getMessageId() != null && !props.getMessageId().isEmpty() ? props.getMessageId() : UUID.randomUUID().toString())
                .key(key)
                .headers(Headers.of(headers))
                .payload(body == null ? new byte[0] : body)
                .contentType(props.getContentType() != null ? props.getContentType() : ContentTypes.OCTET_STREAM)
                .timestamp(timestamp)
                .build();
    }

    private static String text(Object value) {
        if (value instanceof LongString ls) {
            return new String(ls.getBytes(), StandardCharsets.UTF_8);
        }
        if (value instanceof byte[] b) {
            return new String(b, StandardCharsets.UTF_8);
        }
        return String.valueOf(value);
    }

    /** The attempt count a delivery carries; 1 when absent or unreadable. */
    static int attempt(AMQP.BasicProperties props) {
        Map<String, Object> h = props.getHeaders();
        Object v = h == null ? null : h.get(HeaderNames.ATTEMPT);
        if (v == null) {
            return 1;
        }
        try {
            return Math.max(1, Integer.parseInt(text(v).trim()));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    /**
     * {@code props} with the attempt header set to {@code attempt}, for a redelivered copy of
     * {@code m}. The copy goes through the default exchange, so what the consumer derived from the
     * original delivery (the key from the routing key, a generated id) is pinned in the copy.
     * A copy for a delay queue ({@code delayed}) has no per-message expiration: the delay queue
     * would return it as soon as that ran out, before its delay (and the broker drops the
     * expiration of a message it dead-letters anyway, so the copy back in the queue has none).
     */
    static AMQP.BasicProperties withAttempt(AMQP.BasicProperties props, Message m, int attempt, boolean delayed) {
        Map<String, Object> headers = props.getHeaders() == null ? new LinkedHashMap<>() : new LinkedHashMap<>(props.getHeaders());
        headers.put(HeaderNames.ATTEMPT, Integer.toString(attempt));
        if (m.key() != null) {
            headers.putIfAbsent(RabbitHeaders.KEY, m.key());
        }
        headers.putIfAbsent(RabbitHeaders.TIMESTAMP_MS, m.timestamp().toEpochMilli());
        headers.remove("x-death");
        headers.keySet().removeIf(k -> k.startsWith("x-first-death-") || k.startsWith("x-last-death-"));
        AMQP.BasicProperties.Builder copy = props.builder().messageId(m.id()).headers(headers);
        if (delayed) {
            copy.expiration(null);
        }
        return copy.build();
    }
}
