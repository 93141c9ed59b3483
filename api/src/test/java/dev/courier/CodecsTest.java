package dev.courier;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("Codecs")
class CodecsTest {

    record Order(String id, Instant placedAt, LocalDate due, LocalDateTime packedAt, List<String> items, int quantity) {
    }

    private static final Order ORDER = new Order("o-1", Instant.parse("2024-05-01T10:15:30.123Z"), LocalDate.of(2024, 5, 3),
            LocalDateTime.of(2024, 5, 2, 8, 0), List.of("apple", "pear"), 3);

    private static final String ORDER_TYPE = "dev.courier.CodecsTest$Order";

    private final Codecs codecs = Codecs.defaults();

    private static Codecs trusting(String... packages) {
        return new Codecs(Codecs.defaultObjectMapper(), List.of(packages));
    }

    private static Message json(String body, String typeHeader) {
        Message.Builder b = Message.builder("orders").contentType(ContentTypes.JSON)
                .payload(body.getBytes(StandardCharsets.UTF_8));
        if (typeHeader != null) {
            b.header(HeaderNames.PAYLOAD_TYPE, typeHeader);
        }
        return b.build();
    }

    @Test
    @DisplayName("a record with java.time fields round-trips through JSON")
    void jsonRoundTrip() {
        Message m = codecs.encode("orders", ORDER).build();

        assertThat(m.contentType()).isEqualTo("application/json");
        assertThat(codecs.decode(m, Order.class)).isEqualTo(ORDER);
    }

    @Test
    @DisplayName("java.time values are written as ISO-8601 text, not as numbers")
    void isoDates() {
        String body = new String(codecs.encode("orders", ORDER).build().payload(), StandardCharsets.UTF_8);

        assertThat(body).contains("\"placedAt\":\"2024-05-01T10:15:30.123Z\"", "\"due\":\"2024-05-03\"",
                "\"packedAt\":\"2024-05-02T08:00:00\"", "\"items\":[\"apple\",\"pear\"]", "\"quantity\":3");
    }

    @Test
    @DisplayName("the JSON codec records the payload's class name in the courier-type header")
    void typeHeader() {
        Message m = codecs.encode("orders", ORDER).build();

        assertThat(m.header(HeaderNames.PAYLOAD_TYPE)).isEqualTo(ORDER_TYPE);
        assertThat(m.headers().asMap()).containsOnlyKeys("courier-type");
    }

    @Test
    @DisplayName("unknown JSON properties are ignored when decoding")
    void unknownProperties() {
        Message m = json("{\"id\":\"o-2\",\"quantity\":1,\"addedLater\":true}", null);

        assertThat(codecs.decode(m, Order.class)).isEqualTo(new Order("o-2", null, null, null, null, 1));
    }

    @Test
    @DisplayName("a String is encoded as UTF-8 text/plain without a type header")
    void text() {
        Message m = codecs.encode("greetings", "grüße, 世界").build();

        assertThat(m.contentType()).isEqualTo("text/plain; charset=utf-8");
        assertThat(m.payload()).isEqualTo("grüße, 世界".getBytes(StandardCharsets.UTF_8));
        assertThat(m.headers().isEmpty()).isTrue();
        assertThat(codecs.decode(m, String.class)).isEqualTo("grüße, 世界");
        assertThat(codecs.decode(m)).isEqualTo("grüße, 世界");
    }

    @Test
    @DisplayName("a byte[] is passed through raw as application/octet-stream, copied")
    void bytes() {
        byte[] raw = {0, 1, 2, (byte) 0xFF};
        Message m = codecs.encode("blobs", raw).build();
        raw[0] = 42;

        assertThat(m.contentType()).isEqualTo("application/octet-stream");
        assertThat(m.payload()).containsExactly(0, 1, 2, 0xFF);
        assertThat(m.headers().isEmpty()).isTrue();
        assertThat(codecs.decode(m, byte[].class)).containsExactly(0, 1, 2, 0xFF);
        assertThat((byte[]) codecs.decode(m)).containsExactly(0, 1, 2, 0xFF);
    }

    @Test
    @DisplayName("decoding as byte[] gives the raw bytes whatever the content type")
    void rawOfJson() {
        Message m = codecs.encode("orders", ORDER).build();

        assertThat(codecs.decode(m, byte[].class)).isEqualTo(m.payload());
    }

    @Test
    @DisplayName("invalid JSON fails with a CodecException naming the target type and the sender's type")
    void invalidJson() {
        Message m = json("{\"id\": oops", ORDER_TYPE);

        assertThatThrownBy(() -> codecs.decode(m, Order.class))
                .isInstanceOf(CodecException.class)
                .hasMessageStartingWith("cannot decode JSON payload as " + ORDER_TYPE + " (sender wrote " + ORDER_TYPE + "): ")
                .hasCauseInstanceOf(com.fasterxml.jackson.core.JsonProcessingException.class);
    }

    @Test
    @DisplayName("JSON of the wrong shape fails with a CodecException naming the target type")
    void wrongShape() {
        Message m = json("[1, 2, 3]", null);

        assertThatThrownBy(() -> codecs.decode(m, Order.class))
                .isInstanceOf(CodecException.class)
                .hasMessageStartingWith("cannot decode JSON payload as " + ORDER_TYPE + ": ");
    }

    @Test
    @DisplayName("malformed UTF-8 in a text payload fails with a CodecException instead of replacement characters")
    void malformedUtf8() {
        Message m = Message.builder("greetings").contentType(ContentTypes.TEXT)
                .payload(new byte[] {'o', 'k', (byte) 0xC3, (byte) 0x28}).build();

        assertThatThrownBy(() -> codecs.decode(m, String.class))
                .isInstanceOf(CodecException.class)
                .hasMessage("payload is not valid UTF-8 text");
        assertThatThrownBy(() -> codecs.decode(m))
                .isInstanceOf(CodecException.class)
                .hasMessage("payload is not valid UTF-8 text");
    }

    @Test
    @DisplayName("a text payload decodes only to String, and raw bytes only to byte[]")
    void wrongTargetType() {
        Message text = codecs.encode("t", "42").build();
        Message raw = codecs.encode("t", new byte[] {1}).build();

        assertThatThrownBy(() -> codecs.decode(text, Integer.class))
                .isInstanceOf(CodecException.class)
                .hasMessage("a text/plain payload decodes only to String, not java.lang.Integer");
        assertThatThrownBy(() -> codecs.decode(raw, String.class))
                .isInstanceOf(CodecException.class)
                .hasMessage("an application/octet-stream payload decodes only to byte[], not java.lang.String");
    }

    @Test
    @DisplayName("a content type without a codec fails with a CodecException telling how to register one")
    void unknownContentType() {
        Message m = Message.builder("orders").contentType("application/x-protobuf").id("m-9").build();

        assertThatThrownBy(() -> codecs.decode(m, Order.class))
                .isInstanceOf(CodecException.class)
                .hasMessage("no codec for content type 'application/x-protobuf' of message m-9 on 'orders'; "
                        + "register one with Codecs.register(...)");
    }

    @Test
    @DisplayName("content types are matched without parameters and case")
    void contentTypeMatching() {
        Message m = Message.builder("orders").contentType("Application/JSON; charset=UTF-8")
                .payload("{\"id\":\"o-3\",\"quantity\":2}".getBytes(StandardCharsets.UTF_8)).build();

        assertThat(codecs.decode(m, Order.class).id()).isEqualTo("o-3");
    }

    @Test
    @DisplayName("a null payload is refused with a hint to publish an empty byte[]")
    void nullPayload() {
        assertThatThrownBy(() -> codecs.encode("orders", null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("payload must not be null; publish an empty byte[] for an empty message");
    }

    @Test
    @DisplayName("untyped decode with no trusted packages gives maps, lists and scalars, never the sender's class")
    void untypedUntrusted() {
        Message m = codecs.encode("orders", ORDER).build();

        Object decoded = codecs.decode(m);

        assertThat(decoded).isInstanceOf(Map.class);
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) decoded;
        assertThat(map).containsEntry("id", "o-1").containsEntry("placedAt", "2024-05-01T10:15:30.123Z")
                .containsEntry("items", List.of("apple", "pear")).containsEntry("quantity", 3);
    }

    @Test
    @DisplayName("untyped decode instantiates the sender's class when its package is trusted")
    void untypedTrusted() {
        Codecs trusting = trusting("dev.courier");
        Message m = trusting.encode("orders", ORDER).build();

        assertThat(trusting.decode(m)).isEqualTo(ORDER);
        assertThat(trusting("dev.courier.").decode(m)).isEqualTo(ORDER);
        assertThat(trusting("*").decode(m)).isEqualTo(ORDER);
    }

    @Test
    @DisplayName("a trusted package does not trust packages that merely share its prefix")
    void prefixIsNotAPackage() {
        Message m = codecs.encode("orders", ORDER).build();

        assertThat(trusting("dev.cour").decode(m)).isInstanceOf(Map.class);
        assertThat(trusting("dev.courier.internal").decode(m)).isInstanceOf(Map.class);
    }

    @Test
    @DisplayName("a type header naming a class outside the trusted packages is never loaded")
    void untrustedTypeHeader() {
        Message m = json("{\"command\":[\"rm\",\"-rf\",\"/\"]}", "java.lang.ProcessBuilder");

        assertThat(trusting("dev.courier").decode(m)).isEqualTo(Map.of("command", List.of("rm", "-rf", "/")));
    }

    @Test
    @DisplayName("a trusted but missing class falls back to a generic decode")
    void missingTrustedClass() {
        Message m = json("{\"id\":\"o-4\"}", "dev.courier.DoesNotExist");

        assertThat(trusting("dev.courier").decode(m)).isEqualTo(Map.of("id", "o-4"));
    }

    @Test
    @DisplayName("a registered codec is preferred for the types it claims and decodes its content type")
    void registeredCodec() {
        Codec upper = new Codec() {
            @Override
            public String contentType() {
                return "text/x-upper";
            }

            @Override
            public boolean canEncode(Class<?> type) {
                return type == String.class;
            }

            @Override
            public byte[] encode(Object value, HeaderSink headers) {
                headers.put("x-codec", "upper");
                return ((String) value).toUpperCase().getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public <T> T decode(byte[] bytes, Class<T> type, Headers headers) {
                return type.cast(new String(bytes, StandardCharsets.UTF_8).toLowerCase());
            }
        };
        Codecs custom = Codecs.defaults().register(upper);

        Message m = custom.encode("t", "Hello").build();

        assertThat(m.contentType()).isEqualTo("text/x-upper");
        assertThat(m.header("x-codec")).isEqualTo("upper");
        assertThat(new String(m.payload(), StandardCharsets.UTF_8)).isEqualTo("HELLO");
        assertThat(custom.decode(m, String.class)).isEqualTo("hello");
        assertThat(custom.encoderFor(ORDER).contentType()).isEqualTo("application/json");
    }
}
