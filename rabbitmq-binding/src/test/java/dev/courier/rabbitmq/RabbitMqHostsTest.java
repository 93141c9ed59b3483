package dev.courier.rabbitmq;

import dev.courier.Subscribe;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Several hosts in the URL, on the real broker and a local socket standing in for a second host. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RabbitMqHostsTest {

    private static final String RUN = "hosts-" + UUID.randomUUID().toString().substring(0, 8) + ".";
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        open.clear();
    }

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll(RUN);
    }

    private Courier connect(String url, Map<String, String> extra) {
        Courier c = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config()).setAll(extra)
                .url(url).build());
        open.add(c);
        return c;
    }

    @Test
    @DisplayName("several hosts in the URL are tried in order: the first, reachable, host is always the one used")
    void severalHostsAreTriedInOrder() throws Exception {
        BrokerUrl broker = BrokerUrl.parse(RabbitBroker.FIXTURE.url());
        BrokerUrl.HostPort first = broker.hosts().get(0);
        AtomicInteger contacted = new AtomicInteger();
        try (ServerSocket second = new ServerSocket(0)) {
            Thread acceptor = new Thread(() -> {
                while (!second.isClosed()) {
                    try (Socket s = second.accept()) {
                        contacted.incrementAndGet(); // closes at once: the client moves on to the next address
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            String userInfo = broker.user() == null ? "" : broker.user() + (broker.password() == null ? "" : ":" + broker.password()) + "@";
            String url = "amqp://" + userInfo + first.host() + ":" + first.portOr(5672) + ",127.0.0.1:" + second.getLocalPort() + "/"
                    + (broker.path().isEmpty() ? "" : broker.path());
            for (int i = 0; i < 20; i++) {
                Courier c = connect(url, Map.of());
                c.close();
            }
        }
        assertThat(contacted.get()).as("connections attempted to the second host although the first one answers").isZero();
    }

    /** Counts what amqp-client hands to the shared executor a customizer set on the factory. */
    private static int deliveriesThroughCustomExecutor(boolean severalHosts) throws Exception {
        AtomicInteger executed = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        ExecutorService counting = new java.util.concurrent.AbstractExecutorService() {
            @Override public void shutdown() { pool.shutdown(); }
            @Override public java.util.List<Runnable> shutdownNow() { return pool.shutdownNow(); }
            @Override public boolean isShutdown() { return pool.isShutdown(); }
            @Override public boolean isTerminated() { return pool.isTerminated(); }
            @Override public boolean awaitTermination(long t, TimeUnit u) throws InterruptedException { return pool.awaitTermination(t, u); }
            @Override public void execute(Runnable r) { executed.incrementAndGet(); pool.execute(r); }
        };
        BrokerUrl broker = BrokerUrl.parse(RabbitBroker.FIXTURE.url());
        BrokerUrl.HostPort first = broker.hosts().get(0);
        String userInfo = broker.user() == null ? "" : broker.user() + (broker.password() == null ? "" : ":" + broker.password()) + "@";
        String hosts = first.host() + ":" + first.portOr(5672) + (severalHosts ? ",127.0.0.1:1" : "");
        String url = "amqp://" + userInfo + hosts + "/" + (broker.path().isEmpty() ? "" : broker.path());
        try (AutoCloseable hook = RabbitBindingProvider.configure(f -> f.setSharedExecutor(counting));
             Courier c = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config()).url(url).build())) {
            String topic = RUN + (severalHosts ? "several" : "single");
            CountDownLatch got = new CountDownLatch(1);
            c.subscribe(Subscribe.to(topic).group("g"), d -> got.countDown());
            c.publisher().publish(topic, "x").toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertThat(got.await(10, TimeUnit.SECONDS)).as("delivered").isTrue();
        } finally {
            pool.shutdownNow();
        }
        return executed.get();
    }

    @Test
    @DisplayName("with several hosts, as with one, the shared executor a configure() customizer set runs the consumer work")
    void severalHostsKeepTheCustomizersExecutor() throws Exception {
        assertThat(deliveriesThroughCustomExecutor(false)).as("tasks on the customizer's executor, one host").isPositive();
        assertThat(deliveriesThroughCustomExecutor(true)).as("tasks on the customizer's executor, two hosts").isPositive();
    }
}
