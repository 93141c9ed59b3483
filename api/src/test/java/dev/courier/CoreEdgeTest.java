package dev.courier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The core around publish, request and close: configured timeouts, batches, bad input, concurrent closes, and configuration precedence, on mem://. */
class CoreEdgeTest {

    private final List<Courier> opened = new CopyOnWriteArrayList<>();

    private Courier connect(String url) {
        return connect(CourierConfig.builder().withoutEnvironment().url(url).set(CourierConfig.CLOSE_TIMEOUT, "2s").build(),
                CourierListener.NONE);
    }

    private Courier connect(CourierConfig config, CourierListener listener) {
        Courier c = Courier.builder().config(config).listener(listener).connect();
        opened.add(c);
        return c;
    }

    private static String memUrl() {
        return "mem://core-edge-" + UUID.randomUUID();
    }

    @AfterEach
    void closeAll() {
        for (Courier c : opened) {
            c.close();
        }
    }

    @Test
    @DisplayName("courier.request.timeout is the timeout of a request whose caller passes null")
    void configuredRequestTimeoutIsUsed() throws Exception {
        Courier courier = connect(CourierConfig.builder().withoutEnvironment().url(memUrl())
                .set(CourierConfig.REQUEST_TIMEOUT, "10s").build(), CourierListener.NONE);
        courier.respond(Subscribe.to("status").group("svc"), d -> "OK");

        String reply = courier.requester().request("status", "ping", String.class, null)
                .toCompletableFuture().get(20, TimeUnit.SECONDS);

        assertThat(reply).isEqualTo("OK");
        assertThat(courier.requester().request("status", "ping", String.class, Duration.ZERO).toCompletableFuture())
                .failsWithin(Duration.ofSeconds(5)).withThrowableOfType(java.util.concurrent.ExecutionException.class)
                .withCauseInstanceOf(IllegalArgumentException.class);
        // nobody answers "silent": the configured 1 s ends the wait
        Courier quick = connect(CourierConfig.builder().withoutEnvironment().url(memUrl())
                .set(CourierConfig.REQUEST_TIMEOUT, "1s").build(), CourierListener.NONE);
        quick.subscribe(Subscribe.to("silent").group("svc"), d -> { });
        assertThat(quick.requester().request("silent", "ping", String.class, null).toCompletableFuture())
                .failsWithin(Duration.ofSeconds(20)).withThrowableOfType(java.util.concurrent.ExecutionException.class)
                .withCauseInstanceOf(RequestTimeoutException.class);
    }

    @Test
    @DisplayName("publishAll reports each confirmed message to the listener, as publish does")
    void publishAllReportsToListener() throws Exception {
        List<String> published = new CopyOnWriteArrayList<>();
        CourierListener listener = new CourierListener() {
            @Override
            public void published(Message message, PublishReceipt receipt) {
                published.add(message.id());
            }
        };
        Courier courier = connect(CourierConfig.builder().withoutEnvironment().url(memUrl()).build(), listener);
        Message a = Message.builder("batch").payload(new byte[] {1}).build();
        Message b = Message.builder("batch").payload(new byte[] {2}).build();

        courier.publisher().publishAll(List.of(a, b)).toCompletableFuture().get(5, TimeUnit.SECONDS);

        assertThat(published).containsExactlyInAnyOrder(a.id(), b.id());
        assertThatThrownBy(() -> courier.publisher().publishAll(java.util.Arrays.asList(a, null)))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("messages[1]");
        assertThat(courier.publisher().outstanding()).as("outstanding after a refused batch").isZero();
    }

    @Test
    @DisplayName("a publish refused for a null message is not counted as outstanding, so close() does not wait for it")
    void nullMessageIsNotOutstanding() {
        Courier courier = connect(memUrl());
        Publisher publisher = courier.newPublisher();

        assertThatThrownBy(() -> publisher.publish((Message) null)).isInstanceOf(NullPointerException.class);

        assertThat(publisher.outstanding()).as("publishes outstanding after a refused null message").isZero();
    }

    @Test
    @DisplayName("an environment variable overrides courier.properties also for dashed keys (binding and reliability keys)")
    void environmentBeatsPropertiesFileForDashedKeys() throws Exception {
        Path dir = Files.createTempDirectory("courier-config");
        Files.writeString(dir.resolve("courier-precedence.properties"), "courier.reliability.retry.max-backoff=1s\n");
        ClassLoader before = Thread.currentThread().getContextClassLoader();
        CourierConfig config;
        try (URLClassLoader cl = new URLClassLoader(new URL[] {dir.toUri().toURL()}, before)) {
            Thread.currentThread().setContextClassLoader(cl);
            config = CourierConfig.builder()
                    .environment(Map.of("COURIER_RELIABILITY_RETRY_MAX_BACKOFF", "5s"))
                    .systemProperties(new Properties())
                    .resource("courier-precedence.properties")
                    .build();
        } finally {
            Thread.currentThread().setContextClassLoader(before);
        }

        assertThat(config.duration("courier.reliability.retry.max-backoff", Duration.ZERO))
                .as("environment variables take precedence over courier.properties")
                .isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    @DisplayName("a very long request timeout (effectively none) still gets the reply instead of an ArithmeticException")
    void veryLongRequestTimeout() throws Exception {
        Courier courier = connect(memUrl());
        courier.respond(Subscribe.to("slowpoke").group("svc"), d -> "OK");

        String reply = courier.requester().request("slowpoke", "ping", String.class, Duration.ofDays(365L * 1000))
                .toCompletableFuture().get(20, TimeUnit.SECONDS);

        assertThat(reply).isEqualTo("OK");
    }

    @Test
    @DisplayName("courier.close.timeout bounds how long Courier.close() waits for a stuck handler")
    void closeTimeoutBoundsHandlerDrain() throws Exception {
        Courier courier = connect(memUrl()); // courier.close.timeout=2s
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("stuck").group("g"), d -> {
            started.countDown();
            release.await();
        });
        courier.publisher().publish("stuck", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        java.util.concurrent.CompletableFuture<Void> closing = java.util.concurrent.CompletableFuture.runAsync(courier::close);
        try {
            assertThat(closing).as("close() with courier.close.timeout=2s").succeedsWithin(Duration.ofSeconds(15));
        } finally {
            release.countDown();
            closing.get(60, TimeUnit.SECONDS);
        }
    }

    @Test
    @DisplayName("mem:// options that differ from those of the running broker of that name are refused, not silently ignored")
    void memOptionsMustMatchTheRunningBroker() {
        String name = "mem://core-edge-opts-" + UUID.randomUUID().toString().substring(0, 8);
        connect(name + "?retention=5");
        assertThatThrownBy(() -> connect(name + "?retention=7")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("already running with retention=5");
        assertThatThrownBy(() -> connect(name + "?keep=true")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("keep=false");
        Courier same = connect(name + "?retention=5");
        Courier plain = connect(name);
        assertThat(List.of(same, plain)).allSatisfy(c -> assertThat(c.isClosed()).isFalse());
    }

    @Test
    @DisplayName("a handler that closes its whole Courier returns from close() without waiting for itself, and is not interrupted")
    void closingTheCourierFromAHandler() throws Exception {
        Courier courier = connect(CourierConfig.builder().withoutEnvironment().url(memUrl())
                .set(CourierConfig.CLOSE_TIMEOUT, "20s").build(), CourierListener.NONE);
        java.util.concurrent.CompletableFuture<Long> closeMillis = new java.util.concurrent.CompletableFuture<>();
        courier.subscribe(Subscribe.to("shutdown").group("g"), d -> {
            long begin = System.nanoTime();
            courier.close(); // "stop the service on this command"
            closeMillis.complete(Thread.currentThread().isInterrupted() ? -1 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
        });
        courier.publisher().publish("shutdown", "now").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(closeMillis.get(60, TimeUnit.SECONDS)).as("ms close() took inside the handler (-1: it interrupted the handler), close timeout 20 s")
                .isBetween(0L, 10_000L);
        assertThat(courier.isClosed()).isTrue();
    }

    @Test
    @DisplayName("two handlers closing their Courier at once do not wait out the close timeout for each other")
    void twoHandlersClosingTheCourierAtOnceDoNotWaitForEachOther() throws Exception {
        Courier courier = connect(CourierConfig.builder().withoutEnvironment().url(memUrl())
                .set(CourierConfig.CLOSE_TIMEOUT, "20s").build(), CourierListener.NONE);
        CyclicBarrier both = new CyclicBarrier(2);
        List<Long> took = new CopyOnWriteArrayList<>();
        CountDownLatch returned = new CountDownLatch(2);
        MessageHandler fatal = d -> {
            both.await(5, TimeUnit.SECONDS);
            long begin = System.nanoTime();
            courier.close(); // "fatal: stop the service"
            took.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
            returned.countDown();
        };
        courier.subscribe(Subscribe.to("fatal-a").group("g"), fatal);
        courier.subscribe(Subscribe.to("fatal-b").group("g"), fatal);

        courier.publisher().publish("fatal-a", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);
        courier.publisher().publish("fatal-b", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);

        assertThat(returned.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(took).allSatisfy(ms -> assertThat(ms).as("ms a handler's close() took; close timeout 20 s").isLessThan(10_000L));
        assertThat(courier.isClosed()).isTrue();
    }

    @Test
    @DisplayName("a close() called while another thread closes the Courier returns once that close has finished")
    void concurrentCloseWaitsForTheFirst() throws Exception {
        Courier courier = connect(memUrl()); // courier.close.timeout=2s
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("stuck").group("g"), d -> {
            started.countDown();
            release.await(30, TimeUnit.SECONDS);
        });
        courier.publisher().publish("stuck", "x").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Void> first = CompletableFuture.runAsync(courier::close);
        try {
            Thread.sleep(200);
            long begin = System.nanoTime();

            courier.close();

            // the first close waits up to 2 s for the stuck handler; the second returns only after it
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin)).isGreaterThan(1_000L);
            assertThat(first).succeedsWithin(Duration.ofSeconds(5));
        } finally {
            release.countDown();
        }
    }

    @Test
    @DisplayName("Courier.close() stops every subscription taking messages before it waits for any drain")
    void courierCloseStopsEverySubscriptionTakingMessagesBeforeDrainingOne() throws Exception {
        String url = memUrl();
        Courier courier = connect(CourierConfig.builder().withoutEnvironment().url(url)
                .set(CourierConfig.CLOSE_TIMEOUT, "3s").build(), CourierListener.NONE);
        Courier other = connect(url); // keeps the broker and publishes meanwhile
        CountDownLatch slowStarted = new CountDownLatch(3);
        CountDownLatch never = new CountDownLatch(1);
        // whichever of them close() drains first, the busy ones come after it (but in 1 of 165 orders)
        for (int s = 0; s < 3; s++) {
            courier.subscribe(Subscribe.to("slow" + s).group("g"), d -> {
                slowStarted.countDown();
                never.await(10, TimeUnit.SECONDS);
            });
        }
        AtomicLong closeStarted = new AtomicLong(Long.MAX_VALUE);
        AtomicInteger startedAfterClose = new AtomicInteger();
        for (int b = 0; b < 8; b++) {
            courier.subscribe(Subscribe.to("busy" + b).group("g"), d -> {
                if (System.nanoTime() > closeStarted.get()) {
                    startedAfterClose.incrementAndGet();
                }
            });
        }
        for (int s = 0; s < 3; s++) {
            other.publisher().publish("slow" + s, "x").toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
        assertThat(slowStarted.await(5, TimeUnit.SECONDS)).isTrue();
        Thread closer = new Thread(() -> {
            closeStarted.set(System.nanoTime());
            courier.close();
        });

        closer.start();
        try {
            Thread.sleep(200);
            for (int i = 0; i < 20; i++) {
                for (int b = 0; b < 8; b++) {
                    other.publisher().publish("busy" + b, "m" + i).toCompletableFuture().get(5, TimeUnit.SECONDS);
                }
                Thread.sleep(20);
            }
            closer.join(20_000);
        } finally {
            never.countDown();
        }

        assertThat(startedAfterClose.get()).as("messages the busy subscriptions took after Courier.close() began").isZero();
    }

    @Test
    @DisplayName("a null URL is refused instead of connecting to mem:// or to COURIER_URL")
    void nullUrlIsRefused() {
        String unset = System.getenv("COURIER_TEST_SURELY_UNSET");
        assertThatThrownBy(() -> opened.add(Courier.connect(unset))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.url is null");
        assertThatThrownBy(() -> opened.add(Courier.builder().url(unset).connect())).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("courier.url is null");
    }

    @Test
    @DisplayName("mem:// keep takes the boolean words of the configuration (yes, 1, on) and refuses others instead of reading false")
    void memKeepIsABoolean() {
        String name = "mem://core-edge-keep-" + UUID.randomUUID().toString().substring(0, 8);
        connect(name + "?keep=yes");
        assertThatThrownBy(() -> connect(name + "?keep=false")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("keep=true");
        assertThat(connect(name + "?keep=1").isClosed()).isFalse();
        assertThatThrownBy(() -> connect(memUrl() + "?keep=maybe")).isInstanceOf(ConfigurationException.class)
                .hasMessage("mem keep 'maybe' is not a boolean; use true or false");
    }
}
