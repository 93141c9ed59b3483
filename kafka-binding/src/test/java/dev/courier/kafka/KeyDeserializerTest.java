package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("KeyDeserializer")
class KeyDeserializerTest {

    private final KeyDeserializer keys = new KeyDeserializer();
    private final StringDeserializer strings = new StringDeserializer();

    @Test
    @DisplayName("decodes keys as the string deserializer does, from arrays and from buffers, null as null")
    void decodesLikeStrings() {
        for (String key : new String[] {"order-17", "", "ключ-ü-\uD83D\uDE80"}) {
            byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
            assertThat(keys.deserialize("t", bytes)).isEqualTo(key).isEqualTo(strings.deserialize("t", bytes));
            assertThat(keys.deserialize("t", new RecordHeaders(), bytes)).isEqualTo(key);
            ByteBuffer buffer = ByteBuffer.allocate(bytes.length + 6).put(new byte[3]).put(bytes).put(new byte[3]);
            buffer.position(3).limit(3 + bytes.length);
            assertThat(keys.deserialize("t", new RecordHeaders(), buffer.slice())).isEqualTo(key);
        }
        assertThat(keys.deserialize("t", (byte[]) null)).isNull();
        assertThat(keys.deserialize("t", new RecordHeaders(), (ByteBuffer) null)).isNull();
    }

    @Test
    @DisplayName("is the consumer's key deserializer unless the configuration names another")
    void defaultUnlessConfigured() {
        BrokerUrl url = BrokerUrl.parse("kafka://127.0.0.1:9092");
        KafkaSettings byDefault = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString()).build());
        assertThat(byDefault.consumer.get(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG)).isEqualTo(KeyDeserializer.class.getName());
        KafkaSettings own = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString())
                .set("courier.kafka.consumer.key.deserializer", StringDeserializer.class.getName()).build());
        assertThat(own.consumer.get(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG)).isEqualTo(StringDeserializer.class.getName());
    }
}
