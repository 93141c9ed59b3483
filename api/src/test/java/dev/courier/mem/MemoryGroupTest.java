package dev.courier.mem;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Delivery;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.internal.HandlerExecutors;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BrokerUrl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The in-memory broker's groups: back-pressure on a full topic, deliveries taken back at close, ordering per member. */
class MemoryGroupTest {

    private final List<AutoCloseable> opened = new CopyOnWriteArrayList<>();

    private Courier connect(String url) {
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url(url)
                .set(CourierConfig.CLOSE_TIMEOUT, "5s").build()).connect();
        opened.add(c);
        return c;
    }

    private static String memUrl() {
        return "mem://group-" + UUID.randomUUID();
    }

    /**
     * The binding alone, with a publish timeout of 300 ms: no Courier around it whose own publish
     * timeout could fail a publish the binding holds.
     */
    private Binding openBinding(String url) {
        ExecutorService handlers = HandlerExecutors.handlerExecutor("platform");
        ScheduledExecutorService scheduler = HandlerExecutors.scheduler();
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url(url).set(CourierConfig.PUBLISH_TIMEOUT, "300ms").build();
        Binding binding = new MemoryBindingProvider().open(new BindingContext(BrokerUrl.parse(url), config, handlers, scheduler));
        opened.add(() -> {
            binding.close();
            scheduler.shutdownNow();
            handlers.shutdownNow();
        });
        return binding;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
    }

    /** Code chained onto {@code stage} that blocks until {@code release} opens; {@code blocking} opens once it runs. */
    private static void blockOn(CompletionStage<?> stage, CountDownLatch blocking, CountDownLatch release) {
        stage.whenComplete((r, e) -> {
            blocking.countDown();
            try {
                release.await(); // a blocking retry, say
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        });
    }

    @Test
    @DisplayName("code chained onto a publish that timed out waiting for room, or got in late, that blocks holds up no other publish's timeout")
    void blockingCallbackOnAWaitingPublishHoldsUpNoOtherTimeout() throws Exception {
        String url = memUrl() + "?retention=1";
        Courier c = connect(url);
        Subscription lagging = c.subscribe(Subscribe.to("full").group("g"), d -> { });
        lagging.pause();
        c.subscribe(Subscribe.to("also-full").group("g"), d -> { }).pause();
        Binding binding = openBinding(url);
        binding.publish(Message.builder("full").payload(new byte[] {1}).build()).toCompletableFuture().get(5, TimeUnit.SECONDS);
        binding.publish(Message.builder("also-full").payload(new byte[] {1}).build()).toCompletableFuture().get(5, TimeUnit.SECONDS);
        CountDownLatch release = new CountDownLatch(1);
        try {
            // fails when the timeout passes
            CountDownLatch timedOut = new CountDownLatch(1);
            blockOn(binding.publish(Message.builder("full").payload(new byte[] {2}).build()), timedOut, release);
            assertThat(timedOut.await(10, TimeUnit.SECONDS)).as("the first waiting publish timed out").isTrue();
            CompletableFuture<PublishReceipt> second = binding.publish(Message.builder("also-full").payload(new byte[] {2}).build())
                    .toCompletableFuture();
            assertThatThrownBy(() -> second.get(10, TimeUnit.SECONDS)).as("another waiting publish, while code chained onto the first one blocks")
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PublishException.class);

            // gets in once the group takes the oldest
            CountDownLatch admitted = new CountDownLatch(1);
            blockOn(binding.publish(Message.builder("full").payload(new byte[] {3}).build()), admitted, release);
            lagging.resume();
            assertThat(admitted.await(10, TimeUnit.SECONDS)).as("the waiting publish got in").isTrue();
            CompletableFuture<PublishReceipt> third = binding.publish(Message.builder("also-full").payload(new byte[] {3}).build())
                    .toCompletableFuture();
            assertThatThrownBy(() -> third.get(10, TimeUnit.SECONDS)).as("another waiting publish, while code chained onto the admitted one blocks")
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PublishException.class);
        } finally {
            release.countDown();
        }
    }

    @Test
    @DisplayName("closing the broadcast subscription that holds a full topic back lets the publishes waiting for room in")
    void closingTheLaggingBroadcastSubscriptionLetsWaitingPublishesIn() throws Exception {
        Courier c = connect(memUrl() + "?retention=2");
        Subscription lagging = c.subscribe(Subscribe.to("full"), d -> { });
        lagging.pause();
        c.publisher().publish("full", "a").toCompletableFuture().get(5, TimeUnit.SECONDS);
        c.publisher().publish("full", "b").toCompletableFuture().get(5, TimeUnit.SECONDS);
        CompletableFuture<PublishReceipt> third = c.publisher().publish("full", "c").toCompletableFuture();
        Thread.sleep(200);
        assertThat(third).as("waits for room: the paused subscription has not taken 'a'").isNotDone();

        lagging.close();

        // nothing holds the topic back any more: the waiting publish goes in, long before the publish timeout
        third.get(5, TimeUnit.SECONDS);
        c.publisher().publish("full", "d").toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("a delivery taken back after the drain timeout comes to the other member as a redelivery")
    void deliveryTakenBackAfterTheDrainTimeoutComesBackAsARedelivery() throws Exception {
        String url = memUrl();
        Courier first = connect(url);
        Courier second = connect(url);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Subscription stuck = first.subscribe(Subscribe.to("jobs").group("g").drainTimeout(Duration.ofMillis(100)), d -> {
            started.countDown();
            release.await(10, TimeUnit.SECONDS);
        });
        first.publisher().publish("jobs", "poison").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Delivery> seen = new CompletableFuture<>();
        second.subscribe(Subscribe.to("jobs").group("g"), seen::complete);

        stuck.close(); // gives up on the running handler after 100 ms: its message goes to the other member

        Delivery again = seen.get(5, TimeUnit.SECONDS);
        release.countDown();
        assertThat(again.metadata().redelivered()).as("redelivered flag").isTrue();
        assertThat(again.attempt()).as("attempt of the first redelivery").isEqualTo(2);
    }

    @Test
    @DisplayName("a BY_KEY subscription runs one message of a key at a time even if its group was first joined with Ordering.NONE")
    void byKeySubscriptionIsOrderedEvenIfTheGroupWasFirstJoinedUnordered() throws Exception {
        Courier c = connect(memUrl());
        // an earlier subscription of the group (closed since) did not ask for ordering
        c.subscribe(Subscribe.to("orders").group("g").ordering(Ordering.NONE), d -> { }).close();
        AtomicInteger active = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(6);
        c.subscribe(Subscribe.to("orders").group("g").concurrency(4).ordering(Ordering.BY_KEY), d -> {
            if (active.incrementAndGet() > 1) {
                overlaps.incrementAndGet();
            }
            Thread.sleep(50);
            active.decrementAndGet();
            done.countDown();
        });

        for (int i = 0; i < 6; i++) {
            c.publisher().publish("orders", "same-key", "m" + i).toCompletableFuture().get(5, TimeUnit.SECONDS);
        }

        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(overlaps.get()).as("handlers of one key that overlapped").isZero();
    }
}
