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

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Maps Courier messages to Kafka records and back; headers travel as UTF-8 Kafka headers. */
final class KafkaMessages {

    private KafkaMessages() {
    }

    static ProducerRecord<String, byte[]> toRecord(Message m, Integer partition) {
        Header id = new RecordHeader(HeaderNames.MESSAGE_ID, m.id().getBytes(StandardCharsets.UTF_8));
        boolean contentType = !ContentTypes.OCTET_STREAM.equals(m.contentType());
        Map<String, String> extra = m.headers().asMap();
        // the record copies the headers into a list of its own: hand it the lightest list there is
        List<Header> headers;
        if (!contentType && extra.isEmpty()) {
            headers = List.of(id); // absent content type means raw bytes: the most common binary payloads carry only the id
        } else {
            Header[] all = new Header[1 + (contentType ? 1 : 0) + extra.size()];
            int i = 0;
            all[i++] = id;
            if (contentType) {
                all[i++] = new RecordHeader(HeaderNames.CONTENT_TYPE, m.contentType().getBytes(StandardCharsets.UTF_8));
            }
            for (Map.Entry<String, String> h : extra.entrySet()) {
                all[i++] = new RecordHeader(h.getKey(), h.getValue().getBytes(StandardCharsets.UTF_8));
            }
            headers = Arrays.asList(all);
        }
        // the producer copies the value into its batch before send() returns: no copy of our own
        return new ProducerRecord<>(m.topic(), partition, m.timestamp().toEpochMilli(), m.key(), Payloads.array(m), headers);
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
