package dev.courier.internal;

import dev.courier.Capabilities;
import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.CourierListener;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DefaultPublisherTest {

    /** A binding whose confirms the test completes by hand. */
    static final class ManualBinding implements Binding {
        final List<CompletableFuture<PublishReceipt>> confirms = new ArrayList<>();
        /** What the binding answers to settlesPublishesWithin. */
        volatile boolean settlesInTime;

        @Override
        public boolean settlesPublishesWithin(Duration timeout) {
            return settlesInTime;
        }

        @Override
        public Capabilities capabilities() {
            return Capabilities.of("manual", 1024);
        }

        @Override
        public synchronized CompletionStage<PublishReceipt> publish(Message message) {
            CompletableFuture<PublishReceipt> f = new CompletableFuture<>();
            confirms.add(f);
            return f;
        }

        @Override
        public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletionStage<Message> request(Message request, Duration timeout) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {
        }
    }

    private final ScheduledExecutorService scheduler = HandlerExecutors.scheduler();
    private final ExecutorService handlers = HandlerExecutors.handlerExecutor("platform");
    private final ManualBinding binding = new ManualBinding();

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        handlers.shutdownNow();
    }

    private DefaultPublisher publisher(Duration publishTimeout, Duration closeTimeout) {
        return new DefaultPublisher(binding, Codecs.defaults(), CourierListener.NONE, scheduler, handlers, publishTimeout, closeTimeout, () -> { });
    }

    @Test
    @DisplayName("a publish the broker never confirms fails with PublishException after the publish timeout")
    void unconfirmedPublishTimesOut() {
        DefaultPublisher p = publisher(Duration.ofMillis(100), Duration.ofSeconds(1));
        CompletableFuture<PublishReceipt> f = p.publish("orders", "x").toCompletableFuture();
        assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(PublishException.class)
                .hasMessageContaining("courier.publish.timeout");
        assertThat(p.outstanding()).isZero();
    }

    @Test
    @DisplayName("code chained onto a timed-out publish that blocks does not hold up another publish's timeout, nor the Courier's other timers")
    void blockingCallbackOnATimeoutHoldsUpNoOtherTimeout() throws Exception {
        DefaultPublisher p = publisher(Duration.ofMillis(200), Duration.ofSeconds(1));
        CountDownLatch blocking = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try {
            p.publish("orders", "first").whenComplete((r, e) -> {
                blocking.countDown();
                try {
                    release.await(); // a blocking retry, say
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(blocking.await(10, TimeUnit.SECONDS)).as("the first publish timed out").isTrue();
            CompletableFuture<PublishReceipt> second = p.publish("orders", "second").toCompletableFuture();
            assertThatThrownBy(() -> second.get(10, TimeUnit.SECONDS)).as("the second publish, while code chained onto the first one blocks")
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PublishException.class);
            CompletableFuture<Void> timer = new CompletableFuture<>();
            scheduler.schedule(() -> timer.complete(null), 10, TimeUnit.MILLISECONDS);
            timer.get(10, TimeUnit.SECONDS); // the scheduler still runs the Courier's other timers
        } finally {
            release.countDown();
        }
    }

    @Test
    @DisplayName("a binding that settles publishes within the timeout itself is trusted with it: the core fails nothing, and still counts and flushes")
    void bindingKeepsTheTimeout() throws Exception {
        binding.settlesInTime = true;
        DefaultPublisher p = publisher(Duration.ofMillis(50), Duration.ofSeconds(5));
        CompletableFuture<PublishReceipt> f = p.publish("orders", "x").toCompletableFuture();
        Thread.sleep(400); // eight timeouts, several sweeps
        assertThat(f).as("left to the binding").isNotDone();
        assertThat(p.outstanding()).isEqualTo(1);
        PublishException late = new PublishException("orders", "expired by the client", null, true);
        binding.confirms.get(0).completeExceptionally(late);
        assertThatThrownBy(f::join).hasCause(late);
        assertThat(p.outstanding()).isZero();
        p.close();
    }

    @Test
    @DisplayName("a confirmed publish completes with the broker's receipt and is not failed later by the timeout")
    void confirmedPublishCompletes() throws Exception {
        DefaultPublisher p = publisher(Duration.ofMillis(100), Duration.ofSeconds(1));
        CompletableFuture<PublishReceipt> f = p.publish("orders", "x").toCompletableFuture();
        PublishReceipt receipt = new PublishReceipt("id", "orders", dev.courier.DeliveryMetadata.none(), false);
        binding.confirms.get(0).complete(receipt);
        Thread.sleep(300);
        assertThat(f.get()).isSameAs(receipt);
    }

    @Test
    @DisplayName("close waits for outstanding confirms, then refuses new publishes")
    void closeFlushes() throws Exception {
        DefaultPublisher p = publisher(Duration.ofSeconds(30), Duration.ofSeconds(10));
        CompletableFuture<PublishReceipt> f = p.publish("orders", "x").toCompletableFuture();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(p::close);
        Thread.sleep(100);
        assertThat(closing).isNotDone();
        binding.confirms.get(0).complete(PublishReceipt.of(Message.builder("orders").build()));
        closing.get(5, TimeUnit.SECONDS);
        assertThat(f).isCompleted();
        assertThatThrownBy(() -> p.publish("orders", "y").toCompletableFuture().join())
                .isInstanceOf(CompletionException.class).hasCauseInstanceOf(ClosedException.class);
    }

    @Test
    @DisplayName("confirmed publishes are dropped from the timeout queue while an older one stays pending, and that one still times out")
    void pendingPublishStillTimesOutAmongConfirmedOnes() throws Exception {
        DefaultPublisher p = publisher(Duration.ofMillis(300), Duration.ofSeconds(1));
        CompletableFuture<PublishReceipt> stuck = p.publish("orders", "first").toCompletableFuture();
        List<CompletableFuture<PublishReceipt>> later = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            later.add(p.publish("orders", "m" + i).toCompletableFuture());
            binding.confirms.get(i + 1).complete(new PublishReceipt("id" + i, "orders", dev.courier.DeliveryMetadata.none(), false));
        }
        assertThatThrownBy(() -> stuck.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(PublishException.class);
        assertThat(later).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        assertThat(p.outstanding()).isZero();
    }

    @Test
    @DisplayName("a listener hears of every confirmed and failed publish")
    void listenerHearsOutcomes() throws Exception {
        List<String> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
        CourierListener listener = new CourierListener() {
            @Override
            public void published(Message message, PublishReceipt receipt) {
                heard.add("ok " + message.topic());
            }

            @Override
            public void publishFailed(Message message, Throwable error) {
                heard.add("failed " + message.topic());
            }
        };
        DefaultPublisher p = new DefaultPublisher(binding, Codecs.defaults(), listener, scheduler, handlers, Duration.ofSeconds(30),
                Duration.ofSeconds(1), () -> { });
        CompletableFuture<PublishReceipt> ok = p.publish("orders", "x").toCompletableFuture();
        CompletableFuture<PublishReceipt> bad = p.publish("payments", "y").toCompletableFuture();
        binding.confirms.get(0).complete(new PublishReceipt("id", "orders", dev.courier.DeliveryMetadata.none(), false));
        binding.confirms.get(1).completeExceptionally(new PublishException("payments", "refused", null));
        assertThat(ok).isCompleted();
        assertThat(bad).isCompletedExceptionally();
        assertThat(heard).containsExactly("ok orders", "failed payments");
        assertThat(p.outstanding()).isZero();
    }

    @Test
    @DisplayName("a publish the caller cancels is reported to the listener once and no longer outstanding")
    void cancelledPublishIsSettled() {
        List<String> heard = new ArrayList<>();
        CourierListener listener = new CourierListener() {
            @Override
            public void publishFailed(Message message, Throwable error) {
                heard.add(error.getClass().getSimpleName() + " " + message.topic());
            }
        };
        DefaultPublisher p = new DefaultPublisher(binding, Codecs.defaults(), listener, scheduler, handlers, Duration.ofSeconds(30),
                Duration.ofSeconds(30), () -> { });
        CompletableFuture<PublishReceipt> f = p.publish("orders", "x").toCompletableFuture();
        assertThat(f.cancel(false)).isTrue();
        assertThat(heard).containsExactly("CancellationException orders");
        assertThat(p.outstanding()).isZero();
        // a confirm arriving after the cancel changes nothing and is not reported twice
        binding.confirms.get(0).complete(new PublishReceipt("id", "orders", dev.courier.DeliveryMetadata.none(), false));
        assertThat(f).isCancelled();
        assertThat(heard).hasSize(1);
    }

    @Test
    @DisplayName("the listener has heard of a publish and it is no longer outstanding by the time the caller's callback runs")
    void listenerAndCountBeforeCallers() {
        List<String> heard = new ArrayList<>();
        CourierListener listener = new CourierListener() {
            @Override
            public void published(Message message, PublishReceipt receipt) {
                heard.add("listener");
            }
        };
        DefaultPublisher p = new DefaultPublisher(binding, Codecs.defaults(), listener, scheduler, handlers, Duration.ofSeconds(30),
                Duration.ofSeconds(1), () -> { });
        List<Integer> outstandingSeen = new ArrayList<>();
        p.publish("orders", "x").whenComplete((r, e) -> {
            heard.add("caller");
            outstandingSeen.add(p.outstanding());
        });
        binding.confirms.get(0).complete(new PublishReceipt("id", "orders", dev.courier.DeliveryMetadata.none(), false));
        assertThat(heard).containsExactly("listener", "caller");
        assertThat(outstandingSeen).containsExactly(0);
    }
}
