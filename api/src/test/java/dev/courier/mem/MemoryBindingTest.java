package dev.courier.mem;

import dev.courier.Courier;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.Ordering;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MemoryBindingTest {

    record Order(String id, double amount) {
    }

    private final Courier courier = Courier.connect("mem://unit-" + UUID.randomUUID());

    @AfterEach
    void close() {
        courier.close();
    }

    @Test
    @DisplayName("a group receives a typed message with its key and headers")
    void roundTrip() throws Exception {
        List<Order> got = new CopyOnWriteArrayList<>();
        List<Message> raw = new CopyOnWriteArrayList<>();
        CountDownLatch latch = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("orders").group("inv"), d -> {
            got.add(d.payload(Order.class));
            raw.add(d.message());
            latch.countDown();
        });
        courier.publisher().publish(courier.publisher().message("orders", new Order("o-1", 42.0)).key("k1").header("x", "y").build())
                .toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(got).containsExactly(new Order("o-1", 42.0));
        assertThat(raw.get(0).key()).isEqualTo("k1");
        assertThat(raw.get(0).header("x")).isEqualTo("y");
    }

    @Test
    @DisplayName("a group created after publishing still receives the earlier messages")
    void lateGroup() throws Exception {
        for (int i = 0; i < 10; i++) {
            courier.publisher().publish("late", "m" + i).toCompletableFuture().get();
        }
        List<String> got = new CopyOnWriteArrayList<>();
        CountDownLatch latch = new CountDownLatch(10);
        courier.subscribe(Subscribe.to("late").group("g"), d -> {
            got.add(d.payload(String.class));
            latch.countDown();
        });
        assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(got).hasSize(10).startsWith("m0");
    }

    @Test
    @DisplayName("per-key order holds with concurrency 8")
    void perKeyOrder() throws Exception {
        int keys = 20;
        int perKey = 200;
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(keys * perKey);
        courier.subscribe(Subscribe.to("keyed").group("g").concurrency(8).ordering(Ordering.BY_KEY), d -> {
            int n = d.payload(Integer.class);
            seen.computeIfAbsent(d.message().key(), k -> Collections.synchronizedList(new ArrayList<>())).add(n);
            latch.countDown();
        });
        for (int i = 0; i < perKey; i++) {
            for (int k = 0; k < keys; k++) {
                courier.publisher().publish("keyed", "k" + k, i);
            }
        }
        assertThat(latch.await(20, TimeUnit.SECONDS)).isTrue();
        for (List<Integer> l : seen.values()) {
            List<Integer> sorted = new ArrayList<>(l);
            Collections.sort(sorted);
            assertThat(l).isEqualTo(sorted).hasSize(perKey);
        }
    }

    @Test
    @DisplayName("a failing message is redelivered with its attempt count, then dead-lettered with failure headers")
    void deadLetter() throws Exception {
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to("pay").group("g").maxAttempts(3).redeliveryDelay(Duration.ofMillis(20)), d -> {
            attempts.add(d.attempt());
            throw new IllegalStateException("boom");
        });
        List<Message> dead = new CopyOnWriteArrayList<>();
        CountDownLatch latch = new CountDownLatch(1);
        courier.subscribe(Subscribe.to("pay.g.dlq").group("ops"), d -> {
            dead.add(d.message());
            latch.countDown();
        });
        courier.publisher().publish("pay", "p1").toCompletableFuture().get();
        assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(attempts).containsExactly(1, 2, 3);
        Message m = dead.get(0);
        assertThat(m.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("3");
        assertThat(m.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo(IllegalStateException.class.getName());
        assertThat(m.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).isEqualTo("pay");
        assertThat(courier.codecs().decode(m, String.class)).isEqualTo("p1");
    }

    @Test
    @DisplayName("request-reply answers, times out, and fails fast without a responder")
    void requestReply() throws Exception {
        assertThatThrownBy(() -> courier.requester().request("price", "x", String.class, Duration.ofSeconds(1)).toCompletableFuture().join())
                .hasCauseInstanceOf(NoResponderException.class);
        courier.respond(Subscribe.to("price").group("svc"), d -> "quote:" + d.payload(String.class));
        assertThat(courier.requester().request("price", "x", String.class, Duration.ofSeconds(5)).toCompletableFuture().get())
                .isEqualTo("quote:x");
        courier.respond(Subscribe.to("slow").group("svc"), d -> {
            Thread.sleep(2000);
            return "late";
        });
        assertThatThrownBy(() -> courier.requester().request("slow", "x", String.class, Duration.ofMillis(100)).toCompletableFuture().join())
                .hasCauseInstanceOf(RequestTimeoutException.class);
    }

    @Test
    @DisplayName("competing consumers share a group's messages without duplicates")
    void competing() throws Exception {
        AtomicInteger a = new AtomicInteger();
        AtomicInteger b = new AtomicInteger();
        Map<String, Boolean> ids = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(1000);
        courier.subscribe(Subscribe.to("work").group("g"), d -> {
            a.incrementAndGet();
            ids.put(d.message().id(), true);
            Thread.sleep(1);
            latch.countDown();
        });
        courier.subscribe(Subscribe.to("work").group("g"), d -> {
            b.incrementAndGet();
            ids.put(d.message().id(), true);
            Thread.sleep(1);
            latch.countDown();
        });
        for (int i = 0; i < 1000; i++) {
            courier.publisher().publish("work", i);
        }
        assertThat(latch.await(20, TimeUnit.SECONDS)).isTrue();
        assertThat(a.get() + b.get()).isEqualTo(1000);
        assertThat(ids).hasSize(1000);
        assertThat(a.get()).isPositive();
        assertThat(b.get()).isPositive();
    }

    @Test
    @DisplayName("a payload above the declared 64 MiB limit fails its publish with a non-retriable PublishException naming the limit")
    void payloadAboveLimit() throws Exception {
        long max = courier.capabilities().maxPayloadBytes();
        assertThat(max).isEqualTo(64L * 1024 * 1024);
        List<Message> got = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to("big").group("g"), d -> got.add(d.message()));

        CompletableFuture<PublishReceipt> tooBig = courier.publisher().publish("big", new byte[(int) max + 1]).toCompletableFuture();
        assertThatThrownBy(() -> tooBig.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class).hasMessageContaining("67108864")
                .satisfies(e -> assertThat(((PublishException) e).isRetriable()).isFalse());
        courier.publisher().publish("big", new byte[(int) max]).toCompletableFuture().get(10, TimeUnit.SECONDS);
        Thread.sleep(200);
        assertThat(got).hasSize(1);
    }
}
