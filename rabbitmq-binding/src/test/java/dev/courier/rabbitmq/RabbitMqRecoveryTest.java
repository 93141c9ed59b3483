package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.spi.BrokerUrl;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The broker closes Courier's connection (as {@code rabbitmqctl close_connection} does in an
 * operator's hands, or a broker restart would) while messages are being published: the connection
 * and the consumer come back, and every publish that was confirmed is consumed.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RabbitMqRecoveryTest {

    /** This run's names: clean-up deletes only them, never those of a run going on elsewhere against the same broker. */
    private static final String RUN = "rt-" + UUID.randomUUID().toString().substring(0, 8) + ".";

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll(RUN);
    }

    @Test
    void confirmedPublishesSurviveTheBrokerClosingTheConnection() throws Exception {
        String name = "rt-recovery-" + UUID.randomUUID().toString().substring(0, 8);
        String topic = RUN + name + ".orders";
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

    /**
     * Harsher: several threads publish without pause on one shared confirm channel
     * (so the channel is busy at every moment the connection recovers), the connection is cut three
     * times (the first time while the first publishes go out, each time with a full confirm
     * window), and after each recovery publishes are made one at a time: each of them must be
     * confirmed on its own, not only when a later publish happens to be confirmed.
     */
    @Test
    void eachPublishIsConfirmedOnItsOwnAfterRepeatedCutsOfABusyChannel() throws Exception {
        String name = "rt-cuts-" + UUID.randomUUID().toString().substring(0, 8);
        String topic = RUN + name + ".orders";
        Map<String, String> extra = Map.of(RabbitConfig.CONNECTION_NAME, name, RabbitConfig.RECOVERY_INTERVAL, "500ms",
                RabbitConfig.PUBLISHER_CHANNELS, "1", CourierConfig.PUBLISH_TIMEOUT, "5s");
        String payload = "x".repeat(4 * 1024);
        try (Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config())
                .setAll(extra).url(RabbitBroker.FIXTURE.url()).build())) {
            Set<String> consumed = ConcurrentHashMap.newKeySet();
            courier.subscribe(Subscribe.to(topic).group("g").concurrency(4), d -> consumed.add(d.message().id()));
            Set<String> confirmed = ConcurrentHashMap.newKeySet();
            for (int round = 0; round < 3; round++) {
                AtomicBoolean publishing = new AtomicBoolean(true);
                List<Thread> publishers = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    String prefix = "r" + round + "-t" + t + "-";
                    Thread th = new Thread(() -> publishWithFullWindow(courier, topic, prefix, payload, publishing, confirmed));
                    th.start();
                    publishers.add(th);
                }
                if (round > 0) {
                    Thread.sleep(300); // let the confirm window fill up
                }
                closeConnection(name);
                // the connection recovers after 500 ms: keep publishing through the recovery
                Thread.sleep(3000);
                publishing.set(false);
                for (Thread th : publishers) {
                    th.join(TimeUnit.SECONDS.toMillis(120));
                }
                int r = round;
                Await.atMost(Duration.ofSeconds(30)).until("a lone publish is confirmed again after cut " + (r + 1), () -> {
                    try {
                        var m = courier.publisher().message(topic, "probe-" + r).build();
                        courier.publisher().publish(m).toCompletableFuture().get(10, TimeUnit.SECONDS);
                        confirmed.add(m.id());
                        return true;
                    } catch (Exception e) {
                        return false;
                    }
                }, () -> "no lone publish confirmed yet");
                for (int k = 0; k < 5; k++) {
                    var m = courier.publisher().message(topic, "after-" + r + "-" + k).build();
                    courier.publisher().publish(m).toCompletableFuture().get(20, TimeUnit.SECONDS);
                    confirmed.add(m.id());
                }
            }
            Await.atMost(Duration.ofSeconds(90)).until("every confirmed message is consumed", () -> consumed.containsAll(confirmed),
                    () -> consumed.size() + " consumed of " + confirmed.size() + " confirmed");
        }
    }

    /**
     * The client recovers a channel in steps: it swaps in a new channel, then re-enables publisher
     * confirms on it. Here that gap is held open (a recovery listener of the channel sleeps in it)
     * while threads keep publishing on the channel: whatever they publish must still be settled,
     * and afterwards a lone publish must be confirmed on its own, which fails when the client's
     * publish sequence numbers and the broker's no longer match.
     */
    @Test
    void publishesDuringChannelRecoveryNeverMisnumberConfirms() throws Exception {
        String name = "rt-gap-" + UUID.randomUUID().toString().substring(0, 8);
        CourierConfig config = CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config())
                .set(RabbitConfig.RECOVERY_INTERVAL, "200ms").url(RabbitBroker.FIXTURE.url()).build();
        ExecutorService completions = Executors.newSingleThreadExecutor();
        Connection connection = RabbitBindingProvider.connectionFactory(BrokerUrl.parse(config.url()), new RabbitConfig(config))
                .newConnection(name);
        try {
            ConfirmChannel channel = new ConfirmChannel(connection, completions);
            CountDownLatch recovered = new CountDownLatch(1);
            AtomicBoolean gap = new AtomicBoolean();
            ((Recoverable) connection).addRecoveryListener(new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable r) {
                    recovered.countDown();
                }

                @Override
                public void handleRecoveryStarted(Recoverable r) {
                }
            });
            ((Recoverable) channel.channel()).addRecoveryListener(new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable r) {
                }

                @Override
                public void handleRecoveryStarted(Recoverable r) {
                    gap.set(true);
                    sleep(500); // the new channel is in place, its confirm mode is not enabled yet
                }
            });
            byte[] body = new byte[16 * 1024];
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().build();
            Queue<CompletableFuture<Void>> stages = new ConcurrentLinkedQueue<>();
            AtomicBoolean publishing = new AtomicBoolean(true);
            List<Thread> publishers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                Thread th = new Thread(() -> {
                    for (int i = 0; publishing.get(); i++) {
                        stages.add(channel.publish(new ConfirmChannel.Pending("t", "", name, null, false), props, body));
                        // flat out from the gap on (the channel is busy when confirms are re-enabled), gently before
                        if (i % 8 == 0 && !gap.get()) {
                            sleep(1);
                        }
                    }
                });
                th.start();
                publishers.add(th);
            }
            closeConnection(name);
            assertThat(recovered.await(60, TimeUnit.SECONDS)).as("the connection recovered").isTrue();
            publishing.set(false);
            for (Thread th : publishers) {
                th.join(TimeUnit.SECONDS.toMillis(60));
            }
            Await.atMost(Duration.ofSeconds(30)).until("a lone publish is confirmed after the recovery", () -> {
                try {
                    channel.publish(new ConfirmChannel.Pending("t", "", name, null, false), props, body).get(5, TimeUnit.SECONDS);
                    return true;
                } catch (Exception e) {
                    return false;
                }
            }, () -> "no lone publish confirmed");
            Await.atMost(Duration.ofSeconds(30)).until("every publish is settled (confirmed or failed)",
                    () -> stages.stream().allMatch(CompletableFuture::isDone),
                    () -> stages.stream().filter(f -> !f.isDone()).count() + " of " + stages.size() + " publishes still unsettled");
            channel.close();
        } finally {
            connection.abort();
            completions.shutdownNow();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Publishes until told to stop, keeping up to 50 publishes unconfirmed; failures around a cut are retriable and ignored. */
    private static void publishWithFullWindow(Courier courier, String topic, String prefix, String payload,
                                              AtomicBoolean publishing, Set<String> confirmed) {
        ArrayDeque<CompletableFuture<PublishReceipt>> window = new ArrayDeque<>();
        int i = 0;
        while (publishing.get()) {
            var m = courier.publisher().message(topic, payload).id(prefix + i++).build();
            window.add(courier.publisher().publish(m).toCompletableFuture()
                    .whenComplete((r, e) -> {
                        if (e == null) {
                            confirmed.add(m.id());
                        }
                    }));
            while (window.size() >= 50) {
                window.poll().handle((r, e) -> null).join();
            }
        }
        window.forEach(f -> f.handle((r, e) -> null).join());
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
