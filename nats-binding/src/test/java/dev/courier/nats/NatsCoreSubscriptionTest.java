package dev.courier.nats;

import dev.courier.CourierConfig;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BrokerUrl;
import io.nats.client.Connection;
import io.nats.client.Nats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Core NATS subscriptions that fall behind: what Courier holds stays within maxInFlight, the rest waits in jnats. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class NatsCoreSubscriptionTest {

    private static final NatsFixture BROKER = NatsFixture.core();
    private static final int PUBLISHED = 20_000;

    private ScheduledExecutorService scheduler;
    private ExecutorService handlers;
    private Binding binding;

    @BeforeEach
    void open() {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url(BROKER.url()).set(NatsSettings.MODE, "core").build();
        scheduler = Executors.newScheduledThreadPool(1);
        handlers = Executors.newCachedThreadPool();
        binding = new NatsBindingProvider().open(new BindingContext(BrokerUrl.parse(BROKER.url()), config, handlers, scheduler));
    }

    @AfterEach
    void close() {
        binding.close();
        scheduler.shutdownNow();
        handlers.shutdownNow();
    }

    private static String topic(String name) {
        return "cs_" + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    private void publish(String topic) throws Exception {
        try (Connection nc = Nats.connect(BROKER.url())) {
            for (int i = 0; i < PUBLISHED; i++) {
                nc.publish(topic, new byte[100]);
            }
            nc.flush(Duration.ofSeconds(10));
        }
    }

    private static void await(String what, int seconds, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    @DisplayName("a core subscription with a stuck handler holds no more than maxInFlight messages; the rest wait in jnats and run once it moves")
    void stuckHandlerHoldsAtMostMaxInFlight() throws Exception {
        String topic = topic("slow");
        CompletableFuture<Void> stuck = new CompletableFuture<>();
        AtomicInteger ran = new AtomicInteger();
        NatsSubscription sub = (NatsSubscription) binding.subscribe(Subscribe.to(topic).group("g").concurrency(1).maxInFlight(4), d -> {
            ran.incrementAndGet();
            return stuck;
        });
        try {
            publish(topic);
            Thread.sleep(1000);
            assertThat(sub.holding()).as("messages the subscription holds, received but not settled (maxInFlight 4)")
                    .isLessThanOrEqualTo(4);
            stuck.complete(null);
            // within jnats' pending limits nothing is dropped: the messages waited there, not in Courier's heap
            await("every message ran (" + ran.get() + " so far)", 60, () -> ran.get() == PUBLISHED);
        } finally {
            stuck.complete(null);
            sub.close(Duration.ZERO).toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    @DisplayName("a paused core subscription holds no more than maxInFlight messages, and the close of a subscription waiting for room returns")
    void pausedHoldsAtMostMaxInFlight() throws Exception {
        String topic = topic("paused");
        AtomicInteger ran = new AtomicInteger();
        NatsSubscription sub = (NatsSubscription) binding.subscribe(Subscribe.to(topic).concurrency(2).maxInFlight(8), d -> {
            ran.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        });
        sub.pause();
        publish(topic);
        Thread.sleep(1000);
        assertThat(sub.holding()).as("messages the paused subscription holds (maxInFlight 8)").isLessThanOrEqualTo(8);
        assertThat(ran.get()).as("messages run while paused").isZero();
        sub.close(Duration.ZERO).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
