package dev.courier.kafka;

import dev.courier.ContentTypes;
import dev.courier.HeaderNames;
import dev.courier.Headers;
import dev.courier.Message;
import dev.courier.spi.Payloads;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** Maps Courier messages to Kafka records and back; headers travel as UTF-8 Kafka headers. */
final class KafkaMessages {

    private KafkaMessages() {
    }

    static ProducerRecord<String, byte[]> toRecord(Message m, Integer partition) {
        boolean contentType = !ContentTypes.OCTET_STREAM.equals(m.contentType());
        Map<String, String> extra = m.headers().asMap();
        // sized up front: RecordHeaders copies the array into a list of exactly this size
        Header[] headers = new Header[1 + (contentType ? 1 : 0) + extra.size()];
        int i = 0;
        headers[i++] = new RecordHeader(HeaderNames.MESSAGE_ID, m.id().getBytes(StandardCharsets.UTF_8));
        if (contentType) {
            // absent means raw bytes, which saves the header on the most common binary payloads
            headers[i++] = new RecordHeader(HeaderNames.CONTENT_TYPE, m.contentType().getBytes(StandardCharsets.UTF_8));
        }
        for (Map.Entry<String, String> h : extra.entrySet()) {
            headers[i++] = new RecordHeader(h.getKey(), h.getValue().getBytes(StandardCharsets.UTF_8));
        }
        // the producer copies the value into its batch before send() returns: no copy of our own
        return new ProducerRecord<>(m.topic(), partition, m.timestamp().toEpochMilli(), m.key(), Payloads.array(m),
                new RecordHeaders(headers));
    }

    static Message toMessage(ConsumerRecord<String, byte[]> r) {
        String id = null;
        String contentType = ContentTypes.OCTET_STREAM;
        Map<String, String> headers = new LinkedHashMap<>();
        for (Header h : r.headers()) {
            String value = h.value() == null ? "" : new String(h.value(), StandardCharsets.UTF_8);
            switch (h.key()) {
                case HeaderNames.MESSAGE_ID -> id = value;
                case HeaderNames.CONTENT_TYPE -> contentType = value;
                default -> headers.put(h.key(), value);
            }
        }
        Message.Builder b = Message.builder(r.topic())
                .id(id != null && !id.isEmpty() ? id : r.topic() + "-" + r.partition() + "-" + r.offset())
                .key(r.key())
                .headers(Headers.of(headers));
        // the deserializer made a new array for this record: the message takes it over
        return Payloads.owned(b, r.value() == null ? new byte[0] : r.value())
                .contentType(contentType)
                .timestamp(Instant.ofEpochMilli(r.timestamp()))
                .build();
    }
}
