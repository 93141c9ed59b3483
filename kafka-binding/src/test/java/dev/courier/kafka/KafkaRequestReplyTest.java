package dev.courier.kafka;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import dev.courier.testkit.kafka.KafkaFixture;
import dev.courier.testkit.Await;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Request-reply: concurrent requests, a request that timed out before it was sent, close during the first request, chained
 * requests, a blocking callback on a timed-out request.
 */
class KafkaRequestReplyTest {

    static String url;
    static Admin admin;

    @BeforeAll
    static void start() {
        url = KafkaFixture.resolve();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaFixture.toBootstrapServers(url)));
    }

    @AfterAll
    static void stop() {
        admin.close();
    }

    static CourierConfig.Builder config() {
        return CourierConfig.builder().withoutEnvironment().url(url).set("courier.kafka.commit.interval", "100ms");
    }

    static String topic(String name) {
        return "rr." + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    static boolean await(BooleanSupplier condition, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    static Set<String> replyTopics() throws Exception {
        Set<String> out = new HashSet<>();
        for (String n : admin.listTopics().names().get(10, TimeUnit.SECONDS)) {
            if (n.startsWith("courier.replies.")) {
                out.add(n);
            }
        }
        return out;
    }

    @Test
    void concurrentRequestsFromAnotherCourier() throws Exception {
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

    @Test
    @DisplayName("a request that timed out before it was sent (its reply topic was still being set up) is not sent later")
    void requestTimedOutBeforeSendingIsNotSentLater() throws Exception {
        String t = topic("late-send");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        Set<String> received = ConcurrentHashMap.newKeySet();
        try (Courier responder = Courier.connect(config().build()); Courier requester = Courier.connect(config().build())) {
            responder.respond(Subscribe.to(t).group("svc"), d -> {
                received.add(d.payload(String.class));
                return "ok";
            });
            // the first request of a Courier creates its reply topic first (an admin round trip and a consumer start)
            CompletableFuture<String> r = requester.requester().request(t, "charge-42", String.class, Duration.ofMillis(1))
                    .toCompletableFuture();
            assertThat(await(r::isDone, 10)).isTrue();
            assertThat(r).isCompletedExceptionally();
            Thread.sleep(5_000);
            assertThat(received).as("requests the responder ran although the requester was told it timed out before sending").isEmpty();
        }
    }

    @Test
    @DisplayName("a Courier closed while its first request is still setting up the reply topic leaves no reply topic behind")
    void closeDuringFirstRequestLeavesNoReplyTopic() throws Exception {
        String t = topic("close-first");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        Set<String> before = replyTopics();
        Courier courier = Courier.connect(config().build());
        courier.requester().request(t, "q", String.class, Duration.ofSeconds(5));
        courier.close();
        Thread.sleep(5_000);
        Set<String> left = replyTopics();
        left.removeAll(before);
        assertThat(left).as("reply topics left on the broker by a closed Courier").isEmpty();
    }

    @Test
    @DisplayName("code chained onto a reply that waits for another request's reply does not stall every reply of the Courier")
    void replyCallbackWaitingForAnotherReplyDoesNotStallReplies() throws Exception {
        String t = topic("chain");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        try (Courier responder = Courier.connect(config().build()); Courier requester = Courier.connect(config().build())) {
            responder.respond(Subscribe.to(t).group("svc"), d -> "re:" + d.payload(String.class));
            // warm up: the reply topic exists and its consumer runs
            assertThat(requester.requester().request(t, "warm", String.class, Duration.ofSeconds(20)).toCompletableFuture()
                    .get(30, TimeUnit.SECONDS)).isEqualTo("re:warm");
            CompletableFuture<String> nested = requester.requester().request(t, "a", String.class, Duration.ofSeconds(20))
                    .toCompletableFuture()
                    .thenApply(a -> requester.requester().request(t, "b", String.class, Duration.ofSeconds(5))
                            .toCompletableFuture().join());
            Throwable failure = null;
            String result = null;
            try {
                result = nested.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).as("the second request, made and awaited in a callback of the first one's reply").isNull();
            assertThat(result).isEqualTo("re:b");
        }
    }

    @Test
    @DisplayName("code chained onto a timed-out request that blocks does not hold up another request's timeout")
    void blockingCallbackOnTimeoutDoesNotStallOtherTimeouts() throws Exception {
        String t = topic("timeouts");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        try (Courier requester = Courier.connect(config().build())) {
            // nobody responds on t: both requests time out
            CountDownLatch blocking = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            try {
                requester.requester().request(t, "a", String.class, Duration.ofSeconds(1))
                        .whenComplete(Await.blockingCallback(blocking, release));
                assertThat(blocking.await(30, TimeUnit.SECONDS)).as("the first request timed out").isTrue();
                CompletableFuture<String> second = requester.requester().request(t, "b", String.class, Duration.ofSeconds(1))
                        .toCompletableFuture();
                assertThat(await(second::isDone, 30)).as("the second request's timeout fired while a callback of the first one blocks")
                        .isTrue();
                assertThatThrownBy(second::join).hasCauseInstanceOf(RequestTimeoutException.class);
            } finally {
                release.countDown();
            }
        }
    }
}
