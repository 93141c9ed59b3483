package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Redelivery and close around a lost connection, and redelivery of messages from other AMQP publishers, on the real broker. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RabbitMqRedeliveryTest {

    private static final String RUN = "rd-" + UUID.randomUUID().toString().substring(0, 8) + ".";
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll(RUN);
    }

    private Courier connect(Map<String, String> extra) {
        Courier c = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config()).setAll(extra)
                .url(RabbitBroker.FIXTURE.url()).build());
        open.add(c);
        return c;
    }

    @Test
    @DisplayName("a nacked message with a per-message expiration shorter than its delay comes back after the delay, not when the expiration runs out")
    void expirationDoesNotShortenTheDelay() throws Exception {
        Courier c = connect(Map.of());
        String topic = RUN + "ttl.orders";
        List<Long> deliveredAt = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g"), d -> {
            deliveredAt.add(System.nanoTime());
            if (d.attempt() == 1) {
                d.nack(Duration.ofSeconds(4));
            }
        });
        c.publisher().publish(dev.courier.Message.builder(topic).key("k").header(RabbitHeaders.EXPIRATION, "300").payload("m".getBytes(StandardCharsets.UTF_8)).build())
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        Await.atMost(Duration.ofSeconds(30)).until("the redelivery", () -> deliveredAt.size() >= 2, () -> deliveredAt);
        long apartMillis = TimeUnit.NANOSECONDS.toMillis(deliveredAt.get(1) - deliveredAt.get(0));
        assertThat(apartMillis).as("ms from the first delivery (nack with 4 s delay, expiration 300 ms) to the redelivery")
                .isGreaterThanOrEqualTo(3_500);
    }

    @Test
    @DisplayName("a message from a non-Courier publisher keeps its key and id when it is redelivered")
    void externalMessageKeepsKeyAndIdOnRedelivery() throws Exception {
        Courier c = connect(Map.of());
        String topic = RUN + "ext.orders";
        List<String> seen = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(100)), d -> {
            seen.add("attempt " + d.attempt() + ": key=" + d.message().key() + " id=" + d.message().id());
            if (d.attempt() == 1) {
                d.nack(Duration.ofMillis(100));
            }
        });
        try (Connection raw = RabbitBroker.rawConnection()) {
            Channel ch = raw.createChannel();
            // a plain AMQP publisher: routing key only, no message-id, no courier headers
            ch.basicPublish(topic, "orders.eu", new AMQP.BasicProperties.Builder().contentType("text/plain").build(),
                    "hello".getBytes(StandardCharsets.UTF_8));
            ch.close();
        }
        Await.atMost(Duration.ofSeconds(20)).until("two deliveries", () -> seen.size() >= 2, () -> seen);
        String firstId = seen.get(0).substring(seen.get(0).indexOf(" id="));
        assertThat(seen.get(0)).startsWith("attempt 1: key=orders.eu");
        assertThat(seen.get(1)).as("the redelivery of " + seen.get(0)).isEqualTo("attempt 2: key=orders.eu" + firstId);
    }

    @Test
    @DisplayName("a subscription closed while the connection is down does not come back as a consumer after recovery")
    void closedWhileDisconnectedStaysClosed() throws Exception {
        String name = "rd-closed-" + UUID.randomUUID().toString().substring(0, 8);
        Courier c = connect(Map.of(RabbitConfig.CONNECTION_NAME, name, RabbitConfig.RECOVERY_INTERVAL, "4s"));
        String topic = RUN + name + ".orders";
        String queue = topic + ".g";
        Subscription s = c.subscribe(Subscribe.to(topic).group("g"), d -> { });
        assertThat(consumers(queue)).as("consumers of " + queue + " before").isEqualTo(1);
        cutConnection(c, name, topic);
        s.close(Duration.ZERO);
        awaitRecovery(c, topic);
        Thread.sleep(500);
        assertThat(consumers(queue)).as("consumers of " + queue + " after the closed subscription's connection recovered").isZero();
    }

    @Test
    @DisplayName("a nack settled after the connection was lost does not duplicate the message (the broker already requeued it)")
    void staleNackDoesNotDuplicate() throws Exception {
        String name = "rd-stale-" + UUID.randomUUID().toString().substring(0, 8);
        Courier c = connect(Map.of(RabbitConfig.CONNECTION_NAME, name, RabbitConfig.RECOVERY_INTERVAL, "500ms"));
        String topic = RUN + name + ".orders";
        List<String> seen = new CopyOnWriteArrayList<>();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch recovered = new CountDownLatch(1);
        c.subscribe(Subscribe.to(topic).group("g").concurrency(2), d -> {
            seen.add("attempt " + d.attempt() + " redelivered=" + d.metadata().redelivered());
            if (seen.size() == 1) {
                started.countDown();
                recovered.await(60, TimeUnit.SECONDS);
                d.nack(Duration.ZERO);
            }
        });
        c.publisher().publish(c.publisher().message(topic, "m").build()).toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
        cutConnection(c, name, RUN + name + ".probe");
        awaitRecovery(c, RUN + name + ".probe");
        Await.atMost(Duration.ofSeconds(20)).until("the broker redelivered the message", () -> seen.size() >= 2, () -> seen);
        recovered.countDown();
        Thread.sleep(3000);
        assertThat(seen).as("deliveries of the one message").hasSize(2);
    }

    @Test
    @DisplayName("deliveries held by a pause when the connection was lost are not handled after resume: the broker's redeliveries are, once each")
    void heldDeliveriesOfALostChannelAreDropped() throws Exception {
        String name = "rd-held-" + UUID.randomUUID().toString().substring(0, 8);
        Courier c = connect(Map.of(RabbitConfig.CONNECTION_NAME, name, RabbitConfig.RECOVERY_INTERVAL, "500ms"));
        String topic = RUN + name + ".orders";
        List<String> seen = new CopyOnWriteArrayList<>();
        Subscription s = c.subscribe(Subscribe.to(topic).group("g"), d -> {
            seen.add(new String(d.message().payload(), StandardCharsets.UTF_8) + " redelivered=" + d.metadata().redelivered());
        });
        s.pause();
        for (int i = 0; i < 3; i++) {
            c.publisher().publish(topic, "k" + i, "m" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
        }
        Await.atMost(Duration.ofSeconds(20)).until("the three messages held at the subscription",
                () -> "3".equals(unackedQuietly(topic + ".g")), () -> "unacked " + unackedQuietly(topic + ".g"));
        cutConnection(c, name, RUN + name + ".probe");
        awaitRecovery(c, RUN + name + ".probe");
        Await.atMost(Duration.ofSeconds(20)).until("the broker redelivered the three to the recovered consumer",
                () -> "3".equals(unackedQuietly(topic + ".g")), () -> "unacked " + unackedQuietly(topic + ".g"));
        s.resume();
        Await.atMost(Duration.ofSeconds(20)).until("three deliveries", () -> seen.size() >= 3, () -> seen);
        Thread.sleep(1500); // room for deliveries that should not come
        assertThat(seen).as("deliveries after resume").containsExactlyInAnyOrder("m0 redelivered=true", "m1 redelivered=true", "m2 redelivered=true");
    }

    private static String unackedQuietly(String queue) {
        try {
            return Integer.toString(queueInfo(queue, "messages_unacknowledged"));
        } catch (Exception e) {
            return e.toString();
        }
    }

    /** Has the broker close the connection named {@code name}; returns once publishing to {@code probe} fails. */
    private static void cutConnection(Courier c, String name, String probe) throws Exception {
        closeConnection(name);
        Await.atMost(Duration.ofSeconds(20)).until("the client saw the connection drop", () -> !publishes(c, probe));
    }

    /** Returns once publishing to {@code probe} works again. */
    private static void awaitRecovery(Courier c, String probe) {
        Await.atMost(Duration.ofSeconds(30)).until("the connection recovered", () -> publishes(c, probe));
    }

    private static boolean publishes(Courier c, String topic) {
        try {
            c.publisher().publish(c.publisher().message(topic, "probe").build()).toCompletableFuture().get(5, TimeUnit.SECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static int consumers(String queue) throws Exception {
        return queueInfo(queue, "consumers");
    }

    /** One numeric column of {@code rabbitmqctl list_queues} for {@code queue}; -1 when the queue is not listed. */
    private static int queueInfo(String queue, String column) throws Exception {
        for (String line : RabbitBroker.rabbitmqctl("list_queues", "name", column, "--no-table-headers")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 2 && parts[0].equals(queue)) {
                return Integer.parseInt(parts[1]);
            }
        }
        return -1;
    }

    private static void closeConnection(String connectionName) throws Exception {
        for (String line : RabbitBroker.rabbitmqctl("list_connections", "pid", "client_properties", "--no-table-headers")) {
            if (line.contains(connectionName)) {
                String pid = line.substring(0, line.indexOf('>') + 1).trim();
                RabbitBroker.rabbitmqctl("close_connection", pid, "test");
            }
        }
    }
}
