package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import dev.courier.testkit.kafka.KafkaFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KafkaSmokeTest {

    static Courier courier;

    @BeforeAll
    static void connect() {
        courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(KafkaFixture.resolve()).build());
    }

    @AfterAll
    static void close() {
        courier.close();
    }

    @Test
    void roundTripLateGroupDeadLetterAndRequestReply() throws Exception {
        String topic = "smoke." + UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 20; i++) {
            courier.publisher().publish(topic, "k" + (i % 3), "m" + i).toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        List<String> got = new CopyOnWriteArrayList<>();
        CountDownLatch all = new CountDownLatch(20);
        courier.subscribe(Subscribe.to(topic).group("late").concurrency(4), d -> {
            got.add(d.payload(String.class));
            all.countDown();
        });
        assertThat(all.await(60, TimeUnit.SECONDS)).as("got %s", got).isTrue();

        List<Message> dead = new CopyOnWriteArrayList<>();
        CountDownLatch deadLatch = new CountDownLatch(1);
        courier.subscribe(Subscribe.to(topic + ".bad.dlq").group("ops"), d -> {
            dead.add(d.message());
            deadLatch.countDown();
        });
        courier.subscribe(Subscribe.to(topic).group("bad").maxAttempts(2).redeliveryDelay(Duration.ofMillis(50)), d -> {
            if (d.payload(String.class).equals("m7")) {
                throw new IllegalStateException("no m7");
            }
        });
        assertThat(deadLatch.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(dead.get(0).header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("2");

        courier.respond(Subscribe.to(topic + ".ask").group("svc"), d -> "re:" + d.payload(String.class));
        assertThat(courier.requester().request(topic + ".ask", "q", String.class, Duration.ofSeconds(30)).toCompletableFuture().get())
                .isEqualTo("re:q");
        assertThatThrownBy(() -> courier.requester().request(topic + ".nobody", "q", String.class, Duration.ofMillis(500))
                .toCompletableFuture().join()).hasCauseInstanceOf(RequestTimeoutException.class);
    }
}
