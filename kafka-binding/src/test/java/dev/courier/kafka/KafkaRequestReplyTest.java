package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Subscribe;
import dev.courier.testkit.kafka.KafkaFixture;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class KafkaRequestReplyTest {

    @Test
    void concurrentRequestsFromAnotherCourier() throws Exception {
        String url = KafkaFixture.resolve();
        try (Courier responder = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url).build());
             Courier requester = Courier.connect(CourierConfig.builder().withoutEnvironment().url(url).build())) {
            String topic = "rr." + UUID.randomUUID().toString().substring(0, 8);
            responder.respond(Subscribe.to(topic).group("svc").concurrency(4), d -> d.payload(Integer.class) * 2);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<CompletableFuture<Integer>> replies = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int n = i;
                replies.add(CompletableFuture.supplyAsync(() -> requester.requester()
                        .request(topic, n, Integer.class, Duration.ofSeconds(20)), pool).thenCompose(s -> s));
            }
            for (int i = 0; i < 40; i++) {
                assertThat(replies.get(i).get(30, TimeUnit.SECONDS)).isEqualTo(i * 2);
            }
            pool.shutdown();
        }
    }
}
