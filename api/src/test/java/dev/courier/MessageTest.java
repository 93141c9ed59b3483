package dev.courier;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("Message")
class MessageTest {

    private static final Instant T0 = Instant.parse("2024-05-01T10:15:30Z");

    private static Message sample() {
        return Message.builder("orders")
                .id("m-1")
                .key("customer-7")
                .header("trace", "abc")
                .payload("hello".getBytes(StandardCharsets.UTF_8))
                .contentType(ContentTypes.TEXT)
                .timestamp(T0)
                .build();
    }

    @Test
    @DisplayName("keeps every field it was built with")
    void fields() {
        Message m = sample();

        assertThat(m.id()).isEqualTo("m-1");
        assertThat(m.topic()).isEqualTo("orders");
        assertThat(m.key()).isEqualTo("customer-7");
        assertThat(m.header("trace")).isEqualTo("abc");
        assertThat(m.headers().asMap()).containsExactly(java.util.Map.entry("trace", "abc"));
        assertThat(m.payload()).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThat(m.payloadSize()).isEqualTo(5);
        assertThat(m.contentType()).isEqualTo("text/plain; charset=utf-8");
        assertThat(m.timestamp()).isEqualTo(T0);
    }

    @Test
    @DisplayName("defaults: a generated id, no key, no headers, an empty octet-stream payload and a timestamp")
    void defaults() {
        Message a = Message.builder("orders").build();
        Message b = Message.builder("orders").build();

        assertThat(a.id()).isNotEmpty().isNotEqualTo(b.id());
        assertThat(a.key()).isNull();
        assertThat(a.headers().isEmpty()).isTrue();
        assertThat(a.payload()).isEmpty();
        assertThat(a.contentType()).isEqualTo("application/octet-stream");
        assertThat(a.timestamp()).isNotNull();
    }

    @Test
    @DisplayName("payload() returns a copy: changing it does not change the message")
    void payloadIsCopied() {
        Message m = sample();

        byte[] first = m.payload();
        first[0] = 'J';

        assertThat(m.payload()).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThat(m.payload()).isNotSameAs(m.payload());
    }

    @Test
    @DisplayName("changing the array given to the builder afterwards does not change the message")
    void builderInputIsCopied() {
        byte[] input = "hello".getBytes(StandardCharsets.UTF_8);
        Message.Builder builder = Message.builder("orders").payload(input);
        input[0] = 'J';
        Message m = builder.build();
        input[1] = 'A';

        assertThat(m.payload()).asString(StandardCharsets.UTF_8).isEqualTo("hello");
    }

    @Test
    @DisplayName("payloadOwned() takes the array over without a copy; payload() still hands out copies")
    void payloadOwnedIsNotCopied() {
        byte[] input = "hello".getBytes(StandardCharsets.UTF_8);
        Message m = Message.builder("orders").payloadOwned(input).build();

        assertThat(m.payloadSize()).isEqualTo(5);
        assertThat(m.payload()).isNotSameAs(input).isEqualTo(input);
        assertThat(dev.courier.spi.Payloads.array(m)).isSameAs(input);
        assertThat(m.toBuilder().build().payload()).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThatThrownBy(() -> Message.builder("orders").payloadOwned(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("payload");
    }

    @Test
    @DisplayName("payloadBuffer() is a read-only view of the payload")
    void payloadBuffer() {
        ByteBuffer buffer = sample().payloadBuffer();

        assertThat(buffer.isReadOnly()).isTrue();
        assertThat(buffer.remaining()).isEqualTo(5);
        assertThat(StandardCharsets.UTF_8.decode(buffer).toString()).isEqualTo("hello");
        assertThatThrownBy(() -> sample().payloadBuffer().put((byte) 1)).isInstanceOf(ReadOnlyBufferException.class);
    }

    @Test
    @DisplayName("toBuilder() copies every field, and changes to the copy leave the original alone")
    void toBuilder() {
        Message original = sample();

        Message same = original.toBuilder().build();
        Message changed = original.toBuilder().key("customer-8").header("trace", "xyz").header("extra", "1").build();

        assertThat(same).isEqualTo(original);
        assertThat(same.hashCode()).isEqualTo(original.hashCode());
        assertThat(changed.id()).isEqualTo("m-1");
        assertThat(changed.key()).isEqualTo("customer-8");
        assertThat(changed.headers().asMap()).containsExactly(
                java.util.Map.entry("trace", "xyz"), java.util.Map.entry("extra", "1"));
        assertThat(changed.payload()).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThat(changed.timestamp()).isEqualTo(T0);
        assertThat(original.key()).isEqualTo("customer-7");
        assertThat(original.headers().asMap()).containsExactly(java.util.Map.entry("trace", "abc"));
        assertThat(changed).isNotEqualTo(original);
    }

    @Test
    @DisplayName("withTopic() keeps id, key, headers, payload, content type and timestamp")
    void withTopic() {
        Message original = sample();

        Message moved = original.withTopic("orders.dlq");

        assertThat(moved.topic()).isEqualTo("orders.dlq");
        assertThat(moved.id()).isEqualTo(original.id());
        assertThat(moved.key()).isEqualTo(original.key());
        assertThat(moved.headers()).isEqualTo(original.headers());
        assertThat(moved.payload()).isEqualTo(original.payload());
        assertThat(moved.contentType()).isEqualTo(original.contentType());
        assertThat(moved.timestamp()).isEqualTo(original.timestamp());
        assertThat(original.topic()).isEqualTo("orders");
    }

    @Test
    @DisplayName("withTopic() validates the new topic")
    void withTopicValidates() {
        assertThatThrownBy(() -> sample().withTopic("orders..dlq")).isInstanceOf(ConfigurationException.class);
    }

    @Test
    @DisplayName("refuses a null payload, null headers, a null content type and an empty id")
    void nullRefusal() {
        Message.Builder b = Message.builder("orders");

        assertThatThrownBy(() -> b.payload(null)).isInstanceOf(NullPointerException.class).hasMessage("payload");
        assertThatThrownBy(() -> b.headers(null)).isInstanceOf(NullPointerException.class).hasMessage("headers");
        assertThatThrownBy(() -> b.contentType(null)).isInstanceOf(NullPointerException.class).hasMessage("contentType");
        assertThatThrownBy(() -> b.header("h", null)).isInstanceOf(NullPointerException.class)
                .hasMessage("header 'h' has a null value");
        assertThatThrownBy(() -> b.id("")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("message id must be non-empty when set");
    }

    @Test
    @DisplayName("toString() shows id, topic, key, content type and payload size, not the payload")
    void toStringOmitsPayload() {
        assertThat(sample()).hasToString(
                "Message{id=m-1, topic=orders, key=customer-7, contentType=text/plain; charset=utf-8, payload=5 bytes, headers={trace=abc}}");
    }

    @Test
    @DisplayName("equality compares every field, including payload bytes")
    void equality() {
        Message a = sample();
        Message b = a.toBuilder().payload("hellO".getBytes(StandardCharsets.UTF_8)).build();

        assertThat(a).isNotEqualTo(b);
        assertThat(a).isEqualTo(a.toBuilder().payload("hello".getBytes(StandardCharsets.UTF_8)).build());
    }
}
