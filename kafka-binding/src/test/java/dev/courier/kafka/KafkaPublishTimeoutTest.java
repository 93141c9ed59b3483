package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishException;
import dev.courier.spi.BrokerUrl;
import dev.courier.testkit.kafka.EmbeddedKafka;
import dev.courier.testkit.Await;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** courier.publish.timeout on Kafka: the producer's delivery timeout enforces it, or the core does. */
class KafkaPublishTimeoutTest {

    static Map<String, Object> producer(Object... keyValues) {
        Map<String, Object> p = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.put((String) keyValues[i], keyValues[i + 1]);
        }
        return p;
    }

    @Test
    @DisplayName("the publish timeout becomes the producer's delivery timeout, with the request timeout shortened to fit")
    void publishTimeoutBecomesDeliveryTimeout() {
        Map<String, Object> p = producer(ProducerConfig.LINGER_MS_CONFIG, "5");
        assertThat(KafkaSettings.deliveryTimeout(p, Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(30));
        assertThat(p).containsEntry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000")
                .containsEntry(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "29995");

        Map<String, Object> longer = producer(ProducerConfig.LINGER_MS_CONFIG, "5");
        assertThat(KafkaSettings.deliveryTimeout(longer, Duration.ofMinutes(2))).isEqualTo(Duration.ofMinutes(2));
        assertThat(longer).containsEntry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000")
                .doesNotContainKey(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG); // the producer's 30 s fits
    }

    @Test
    @DisplayName("a delivery timeout set by the user is kept, and counts only when it is no longer than the publish timeout")
    void userDeliveryTimeoutKept() {
        Map<String, Object> shorter = producer(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
        assertThat(KafkaSettings.deliveryTimeout(shorter, Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(20));
        assertThat(shorter).containsEntry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000").hasSize(1);

        Map<String, Object> longer = producer(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        assertThat(KafkaSettings.deliveryTimeout(longer, Duration.ofSeconds(30))).isNull();
        assertThat(longer).hasSize(1);
    }

    @Test
    @DisplayName("the core keeps the timeout when the producer's settings leave no room for it: short timeouts, long request timeouts, unreadable values")
    void coreKeepsTheTimeout() {
        Map<String, Object> tiny = producer(ProducerConfig.LINGER_MS_CONFIG, "5");
        assertThat(KafkaSettings.deliveryTimeout(tiny, Duration.ofMillis(800))).isNull();
        assertThat(tiny).doesNotContainKeys(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG);

        Map<String, Object> slowRequests = producer(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "60000");
        assertThat(KafkaSettings.deliveryTimeout(slowRequests, Duration.ofSeconds(30))).isNull();
        assertThat(slowRequests).doesNotContainKey(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG);

        assertThat(KafkaSettings.deliveryTimeout(producer(ProducerConfig.LINGER_MS_CONFIG, "five"), Duration.ofSeconds(30))).isNull();
        assertThat(KafkaSettings.deliveryTimeout(producer(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "soon"), Duration.ofSeconds(30))).isNull();
    }

    @Test
    @DisplayName("settings from config: delivery.timeout.ms and max.block.ms (up to the client's 60 s) follow courier.publish.timeout unless set")
    void fromConfig() {
        BrokerUrl url = BrokerUrl.parse("kafka://127.0.0.1:9092");
        KafkaSettings byDefault = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString()).build());
        assertThat(byDefault.deliveryTimeout).isEqualTo(Duration.ofSeconds(30));
        assertThat(byDefault.producer).containsEntry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000")
                .containsEntry(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");

        KafkaSettings explicit = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString())
                .set(CourierConfig.PUBLISH_TIMEOUT, "10s").set("courier.kafka.producer.delivery.timeout.ms", "60000").build());
        assertThat(explicit.deliveryTimeout).isNull();
        assertThat(explicit.producer).containsEntry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000")
                .containsEntry(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");

        KafkaSettings longTimeout = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString())
                .set(CourierConfig.PUBLISH_TIMEOUT, "5m").set("courier.kafka.producer.max.block.ms", "1000").build());
        assertThat(longTimeout.producer).containsEntry(ProducerConfig.MAX_BLOCK_MS_CONFIG, "1000");
        KafkaSettings longDefault = new KafkaSettings(url, CourierConfig.builder().withoutEnvironment().url(url.toString())
                .set(CourierConfig.PUBLISH_TIMEOUT, "5m").build());
        assertThat(longDefault.producer).containsEntry(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
    }

    @Test
    @DisplayName("with the broker gone, publish() returns and the publish fails after the publish timeout with a PublishException that names it, also when it waits for its topic")
    void brokerGonePublishFails() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(1).build().start();
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(kafka.url())
                     .set(CourierConfig.PUBLISH_TIMEOUT, "3s").set(CourierConfig.CLOSE_TIMEOUT, "1s").build())) {
            String topic = "timeout." + UUID.randomUUID().toString().substring(0, 8);
            courier.publisher().publish(topic, "k", "before").toCompletableFuture().get(30, TimeUnit.SECONDS);
            kafka.stop();

            // the producer may have dropped the topic's metadata, in which case send() waits for it:
            // no longer than the publish timeout (max.block.ms), not the client's default 60 s
            long before = System.nanoTime();
            CompletableFuture<?> lost = courier.publisher().publish(topic, "k", "while down").toCompletableFuture();
            assertThat(Duration.ofNanos(System.nanoTime() - before)).as("publish() returned").isLessThan(Duration.ofSeconds(30));
            Throwable failure = null;
            try {
                lost.get(60, TimeUnit.SECONDS); // generous: the check is that the publish settles by itself, not how punctually
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).as("the publish failed").isInstanceOf(PublishException.class)
                    .hasMessageContaining("courier.publish.timeout")
                    .hasMessageContaining("may or may not have been stored");
            assertThat(((PublishException) failure).isRetriable()).isTrue();

            // a topic never used before waits for the admin client, which retries for a minute: the publish does not
            CompletableFuture<?> unknown = courier.publisher().publish(topic + ".new", "k", "to a new topic").toCompletableFuture();
            Throwable waited = null;
            try {
                unknown.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                waited = e.getCause();
            }
            assertThat(waited).as("the publish waiting for its topic failed").isInstanceOf(PublishException.class)
                    .hasMessageContaining("courier.publish.timeout").hasMessageContaining("topic was not ready");
            assertThat(courier.publisher().outstanding()).isZero();
        }
    }

    @Test
    @DisplayName("code chained onto a publish that timed out waiting for its topic that blocks does not hold up another publish's timeout")
    void blockingCallbackOnATimeoutHoldsUpNoOtherTimeout() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(1).build().start();
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(kafka.url())
                     .set(CourierConfig.PUBLISH_TIMEOUT, "3s").set(CourierConfig.CLOSE_TIMEOUT, "1s").build())) {
            String topic = "stuck." + UUID.randomUUID().toString().substring(0, 8);
            kafka.stop(); // a topic never used before is not ready now: each publish to one fails after the publish timeout
            CountDownLatch blocking = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            try {
                courier.publisher().publish(topic + ".a", "k", "first").whenComplete(Await.blockingCallback(blocking, release));
                assertThat(blocking.await(30, TimeUnit.SECONDS)).as("the first publish timed out").isTrue();
                CompletableFuture<?> second = courier.publisher().publish(topic + ".b", "k", "second").toCompletableFuture();
                assertThatThrownBy(() -> second.get(30, TimeUnit.SECONDS)).as("the second publish, while code chained onto the first one blocks")
                        .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PublishException.class)
                        .hasMessageContaining("topic was not ready");
            } finally {
                release.countDown();
            }
        }
    }
}
