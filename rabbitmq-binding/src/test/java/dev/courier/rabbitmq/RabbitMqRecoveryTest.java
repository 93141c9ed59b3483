package dev.courier.rabbitmq;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The broker closes Courier's connection (as {@code rabbitmqctl close_connection} does in an
 * operator's hands, or a broker restart would) while messages are being published: the connection
 * and the consumer come back, and every publish that was confirmed is consumed.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RabbitMqRecoveryTest {

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll("rt.");
    }

    @Test
    void confirmedPublishesSurviveTheBrokerClosingTheConnection() throws Exception {
        String name = "rt-recovery-" + UUID.randomUUID().toString().substring(0, 8);
        String topic = "rt." + name + ".orders";
        Map<String, String> extra = Map.of(RabbitConfig.CONNECTION_NAME, name, RabbitConfig.RECOVERY_INTERVAL, "500ms",
                CourierConfig.PUBLISH_TIMEOUT, "5s");
        try (Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config())
                .setAll(extra).url(RabbitBroker.FIXTURE.url()).build())) {
            Set<String> consumed = ConcurrentHashMap.newKeySet();
            courier.subscribe(Subscribe.to(topic).group("g").concurrency(4), d -> consumed.add(d.message().id()));

            Map<String, CompletableFuture<PublishReceipt>> stages = new LinkedHashMap<>();
            long cutAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            boolean cut = false;
            Thread cutter = null;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
            int i = 0;
            while (System.nanoTime() < end) {
                var m = courier.publisher().message(topic, "m-" + i++).build();
                stages.put(m.id(), courier.publisher().publish(m).toCompletableFuture());
                if (!cut && System.nanoTime() > cutAt) {
                    cut = true;
                    cutter = new Thread(() -> closeConnection(name));
                    cutter.start();
                }
                Thread.sleep(2);
            }
            List<String> confirmed = new ArrayList<>();
            int failed = 0;
            for (Map.Entry<String, CompletableFuture<PublishReceipt>> e : stages.entrySet()) {
                try {
                    e.getValue().get(20, TimeUnit.SECONDS);
                    confirmed.add(e.getKey());
                } catch (java.util.concurrent.ExecutionException ex) {
                    failed++;
                }
            }
            assertThat(failed).as("publishes failed around the cut (retriable)").isLessThan(stages.size());
            // rabbitmqctl can take seconds to act: publishing after recovery is checked once the cut has surely happened
            assertThat(cutter).as("the connection was cut while publishing").isNotNull();
            cutter.join(TimeUnit.SECONDS.toMillis(60));
            Await.atMost(Duration.ofSeconds(30)).until("a publish is confirmed again after the cut", () -> {
                try {
                    courier.publisher().publish(courier.publisher().message(topic, "probe").build()).toCompletableFuture()
                            .get(10, TimeUnit.SECONDS);
                    return true;
                } catch (Exception e) {
                    return false;
                }
            }, () -> "no publish confirmed yet");
            List<String> after = new ArrayList<>();
            for (int k = 0; k < 10; k++) {
                var m = courier.publisher().message(topic, "after-" + k).build();
                courier.publisher().publish(m).toCompletableFuture().get(20, TimeUnit.SECONDS);
                after.add(m.id());
            }
            confirmed.addAll(after);
            Await.atMost(Duration.ofSeconds(60)).until("every confirmed message is consumed", () -> consumed.containsAll(confirmed),
                    () -> consumed.size() + " consumed of " + confirmed.size() + " confirmed (" + stages.size() + " published)");
        }
    }

    private static void closeConnection(String connectionName) {
        try {
            for (String line : RabbitBroker.rabbitmqctl("list_connections", "pid", "client_properties", "--no-table-headers")) {
                if (line.contains(connectionName)) {
                    String pid = line.substring(0, line.indexOf('>') + 1).trim();
                    RabbitBroker.rabbitmqctl("close_connection", pid, "test");
                }
            }
        } catch (Exception e) {
            throw new AssertionError("could not close the connection from the broker side: " + e, e);
        }
    }
}
