package dev.courier.nats;

import dev.courier.ContentTypes;
import dev.courier.HeaderNames;
import dev.courier.Message;
import io.nats.client.impl.Headers;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between Courier messages and NATS messages. The id, key, content type and timestamp
 * travel as {@code courier-*} headers, application headers as NATS headers of the same name. NATS
 * headers are ASCII lines, so a value with other characters (non-ASCII text, line breaks of a
 * stack trace) is sent as {@code =?utf-8?b?<base64>?=} (RFC 2047) and decoded on receipt.
 */
final class NatsMessages {

    /** JetStream's deduplication header. */
    static final String NATS_MSG_ID = "Nats-Msg-Id";
    /** JetStream's expected-stream header, set on every publish by {@code PublishOptions.expectedStream}. */
    static final String EXPECTED_STREAM = "Nats-Expected-Stream";

    private static final String ENCODED_PREFIX = "=?utf-8?b?";
    private static final String ENCODED_SUFFIX = "?=";

    private NatsMessages() {
    }

    static Headers toHeaders(Message m) {
        Headers h = new Headers();
        m.headers().asMap().forEach((k, v) -> h.put(k, encode(v)));
        h.put(HeaderNames.MESSAGE_ID, encode(m.id()));
        h.put(HeaderNames.CONTENT_TYPE, encode(m.contentType()));
        h.put(HeaderNames.TIMESTAMP, Long.toString(m.timestamp().toEpochMilli()));
        if (m.key() != null) {
            h.put(HeaderNames.KEY, encode(m.key()));
        }
        return h;
    }

    /**
     * A dead letter's failure details, shortened in this order when the dead letter would not fit the
     * server's {@code max_payload}: the stack trace first, the reason last.
     */
    private static final List<String> SHORTENED_FIRST = List.of(HeaderNames.DLQ_STACK, HeaderNames.DLQ_EXCEPTION_MESSAGE,
            HeaderNames.DLQ_REASON);

    /**
     * Shortens the failure details of dead letter {@code m} in {@code h} until the headers take at
     * most {@code room} bytes. A dead letter is the original message, which may have the largest
     * payload the binding declares, plus failure headers of up to about 24 KiB once encoded (a
     * 4096-character stack trace with line breaks travels in base64); if it did not fit, its
     * publish would fail every time and the original would be redelivered forever instead.
     * {@code room} counts what jnats adds ({@code Nats-Msg-Id}, {@code Nats-Expected-Stream}) already.
     */
    static Headers fitDeadLetter(Message m, Headers h, long room) {
        for (String name : SHORTENED_FIRST) {
            String value = m.header(name);
            while (value != null && !value.isEmpty() && h.serializedLength() > room) {
                long excess = h.serializedLength() - room;
                // a character is at least one byte on the wire, and "..." takes a few: cut a little more than the excess
                int keep = (int) Math.max(0, value.length() - excess - 16);
                if (keep > 0 && Character.isHighSurrogate(value.charAt(keep - 1))) {
                    keep--;
                }
                value = value.substring(0, keep);
                h.put(name, encode(value + "..."));
            }
        }
        return h;
    }

    /**
     * The Courier message carried by a NATS message received on {@code topic}. {@code fallbackId}
     * names messages published by plain NATS clients, which have no {@code courier-id}.
     */
    static Message fromNats(io.nats.client.Message nats, String topic, String fallbackId) {
        Headers h = nats.getHeaders();
        Map<String, String> app = new LinkedHashMap<>();
        String id = null;
        String key = null;
        String contentType = null;
        Instant timestamp = null;
        String natsMsgId = null;
        if (h != null) {
            for (Map.Entry<String, List<String>> e : h.entrySet()) {
                List<String> values = e.getValue();
                if (values == null || values.isEmpty()) {
                    continue;
                }
                String name = e.getKey();
                String value = decode(values.get(0));
                switch (name) {
                    case HeaderNames.MESSAGE_ID -> id = value;
                    case HeaderNames.KEY -> key = value;
                    case HeaderNames.CONTENT_TYPE -> contentType = value;
                    case HeaderNames.TIMESTAMP -> timestamp = parseMillis(value);
                    case NATS_MSG_ID -> natsMsgId = value;
                    case EXPECTED_STREAM -> { } // publish option the server stores with the message, not an application header
                    default -> app.put(name, value);
                }
            }
        }
        if (id == null || id.isEmpty()) {
            id = natsMsgId != null && !natsMsgId.isEmpty() ? natsMsgId : fallbackId;
        }
        byte[] data = nats.getData();
        Message.Builder b = Message.builder(topic)
                .id(id)
                .key(key)
                .headers(dev.courier.Headers.of(app))
                .payload(data == null ? new byte[0] : data)
                .contentType(contentType != null ? contentType : ContentTypes.OCTET_STREAM);
        if (timestamp != null) {
            b.timestamp(timestamp);
        }
        return b.build();
    }

    private static Instant parseMillis(String v) {
        try {
            return Instant.ofEpochMilli(Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static String encode(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return ENCODED_PREFIX + Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8)) + ENCODED_SUFFIX;
            }
        }
        if (value.startsWith(ENCODED_PREFIX)) {
            // a plain value that looks encoded is encoded too, so decoding gives it back unchanged
            return ENCODED_PREFIX + Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8)) + ENCODED_SUFFIX;
        }
        return value;
    }

    static String decode(String value) {
        if (value.startsWith(ENCODED_PREFIX) && value.endsWith(ENCODED_SUFFIX)
                && value.length() >= ENCODED_PREFIX.length() + ENCODED_SUFFIX.length()) {
            try {
                return new String(Base64.getDecoder().decode(
                        value.substring(ENCODED_PREFIX.length(), value.length() - ENCODED_SUFFIX.length())), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return value;
            }
        }
        return value;
    }

    /** A subject token made of {@code key}: NATS forbids whitespace, '*' and '>' in tokens, and empty tokens. */
    static String keyToken(String key) {
        StringBuilder sb = new StringBuilder(key.length());
        for (String part : key.split("\\.", -1)) {
            if (sb.length() > 0) {
                sb.append('.');
            }
            if (part.isEmpty()) {
                sb.append('_');
                continue;
            }
            for (int i = 0; i < part.length(); i++) {
                char c = part.charAt(i);
                sb.append(Character.isWhitespace(c) || c == '*' || c == '>' ? '_' : c);
            }
        }
        return sb.toString();
    }
}
