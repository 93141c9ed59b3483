package dev.courier.internal;

import dev.courier.AsyncMessageHandler;
import dev.courier.Capabilities;
import dev.courier.Codecs;
import dev.courier.ContentTypes;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.DeliveryMetadata;
import dev.courier.HeaderNames;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.MessageHandler;
import dev.courier.NonRetryableException;
import dev.courier.Outcome;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.InboundDelivery;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("SubscriptionPipeline failure policy")
class SubscriptionPipelineTest {

    private static final dev.courier.Interceptor.Flow NO_FLOW = new dev.courier.Interceptor.Flow() {
        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }

        @Override
        public boolean isPaused() {
            return false;
        }
    };

    private static final Subscribe SPEC = Subscribe.to("orders").group("inventory")
            .maxAttempts(3).redeliveryDelay(Duration.ofMillis(250));

    private final FakeBinding binding = new FakeBinding();
    private final RecordingListener listener = new RecordingListener();
    private final Codecs codecs = Codecs.defaults();

    record Order(String id, int quantity) {
    }

    // ---------------------------------------------------------------------------------------------
    // fakes

    /** Records published messages; each publish completes with {@link #nextPublish}, or fails when it throws. */
    static final class FakeBinding implements Binding {
        final List<Message> published = Collections.synchronizedList(new ArrayList<>());
        Function<Message, CompletionStage<PublishReceipt>> nextPublish = m -> CompletableFuture.completedFuture(PublishReceipt.of(m));

        @Override
        public Capabilities capabilities() {
            return Capabilities.of("fake", 1024);
        }

        @Override
        public CompletionStage<PublishReceipt> publish(Message message) {
            published.add(message);
            return nextPublish.apply(message);
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

    /** Records how the core settled it: "ack", "nack PT0.25S" or "reject". */
    static final class FakeDelivery implements InboundDelivery {
        final List<String> settlements = Collections.synchronizedList(new ArrayList<>());
        private final Message message;
        private final int attempt;

        FakeDelivery(Message message, int attempt) {
            this.message = message;
            this.attempt = attempt;
        }

        @Override
        public Message message() {
            return message;
        }

        @Override
        public int attempt() {
            return attempt;
        }

        @Override
        public DeliveryMetadata metadata() {
            return DeliveryMetadata.sequence(17, attempt > 1);
        }

        @Override
        public <T> T unwrap(Class<T> type) {
            return null;
        }

        @Override
        public void ack() {
            settlements.add("ack");
        }

        @Override
        public void nack(Duration delay) {
            settlements.add("nack " + delay);
        }

        @Override
        public void reject() {
            settlements.add("reject");
        }
    }

    static final class RecordingListener implements CourierListener {
        final List<Outcome> settled = Collections.synchronizedList(new ArrayList<>());
        final List<String> events = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void settled(Delivery delivery, Outcome outcome) {
            settled.add(outcome);
        }

        @Override
        public void deadLettered(Delivery delivery, String deadLetterTopic, String reason) {
            events.add("deadLettered " + deadLetterTopic);
        }

        @Override
        public void deadLetterFailed(Delivery delivery, String deadLetterTopic, Throwable error) {
            events.add("deadLetterFailed " + deadLetterTopic + ": " + error.getMessage());
        }
    }

    /** Breaks the interceptor contract. */
    static final class NullReturningInterceptor implements Interceptor {
        @Override
        public CompletionStage<Outcome> intercept(Chain chain) {
            return null;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    private static Message order() {
        return Message.builder("orders").id("m-1").key("customer-7")
                .header("trace", "abc")
                .header(HeaderNames.ATTEMPT, "3")
                .contentType(ContentTypes.JSON)
                .payload("{\"id\":\"o-1\",\"quantity\":2}".getBytes(StandardCharsets.UTF_8))
                .build();
    }

    private SubscriptionPipeline pipeline(MessageHandler handler, Interceptor... interceptors) {
        return new SubscriptionPipeline(SPEC, binding, codecs, List.of(interceptors), listener, Terminals.of(handler), Runnable::run, NO_FLOW);
    }

    private SubscriptionPipeline asyncPipeline(AsyncMessageHandler handler) {
        return new SubscriptionPipeline(SPEC, binding, codecs, List.of(), listener, Terminals.of(handler), Runnable::run, NO_FLOW);
    }

    private static FakeDelivery attempt(int n) {
        return new FakeDelivery(order(), n);
    }

    private static MessageHandler failing(RuntimeException e) {
        return d -> {
            throw e;
        };
    }

    private Message onlyDeadLetter() {
        assertThat(binding.published).hasSize(1);
        return binding.published.get(0);
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    @DisplayName("a handler that returns acks the delivery and completes process()")
    void ackOnReturn() {
        FakeDelivery in = attempt(1);

        CompletionStage<Void> done = pipeline(d -> { }).process(in);

        assertThat(in.settlements).containsExactly("ack");
        assertThat(done.toCompletableFuture()).isCompleted();
        assertThat(binding.published).isEmpty();
        assertThat(listener.settled).extracting(Outcome::kind).containsExactly(Outcome.Kind.ACK);
    }

    @Test
    @DisplayName("deliveries settled before process() returns share one completed stage that nobody can change")
    void sharedStageForSynchronousSettlement() {
        SubscriptionPipeline pipeline = pipeline(d -> { });
        CompletableFuture<Void> first = pipeline.process(attempt(1)).toCompletableFuture();
        CompletableFuture<Void> second = pipeline.process(attempt(1)).toCompletableFuture();

        assertThat(first).isSameAs(second).isCompleted();
        assertThat(first.complete(null)).as("already complete").isFalse();
        assertThat(first.completeExceptionally(new IllegalStateException("late"))).isFalse();
        assertThat(first.cancel(true)).isFalse();
        assertThatThrownBy(() -> first.obtrudeException(new IllegalStateException("late")))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> first.obtrudeValue(null)).isInstanceOf(UnsupportedOperationException.class);
        assertThat(first).isCompletedWithValue(null);
        CompletableFuture<String> derived = first.thenApply(v -> "next");
        assertThat(derived).isCompletedWithValue("next");
        assertThat(derived.complete("changed")).isFalse();
        CompletableFuture<String> pending = first.thenApplyAsync(v -> "later", r -> { });
        assertThat(pending.complete("mine")).as("stages made from it are ordinary ones").isTrue();
    }

    @Test
    @DisplayName("a delivery settled after process() returned completes the stage process() gave out")
    void stageOfLaterSettlement() {
        Delivery[] held = new Delivery[1];
        FakeDelivery in = attempt(1);
        CompletionStage<Void> done = asyncPipeline(d -> {
            held[0] = d;
            return null;
        }).process(in);

        assertThat(done.toCompletableFuture()).isNotDone();
        held[0].ack();
        assertThat(done.toCompletableFuture()).isCompletedWithValue(null);
        assertThat(in.settlements).containsExactly("ack");
    }

    @Nested
    @DisplayName("a failing handler")
    class Failures {

        @Test
        @DisplayName("is nacked with the subscription's redelivery delay while attempts remain")
        void nackWhileAttemptsRemain() {
            FakeDelivery first = attempt(1);
            FakeDelivery second = attempt(2);

            pipeline(failing(new IllegalStateException("boom"))).process(first);
            pipeline(failing(new IllegalStateException("boom"))).process(second);

            assertThat(first.settlements).containsExactly("nack PT0.25S");
            assertThat(second.settlements).containsExactly("nack PT0.25S");
            assertThat(binding.published).isEmpty();
        }

        @Test
        @DisplayName("on the last attempt is published to the dead-letter topic with DLQ headers, then rejected")
        void deadLetterOnLastAttempt() {
            CompletableFuture<PublishReceipt> confirm = new CompletableFuture<>();
            binding.nextPublish = m -> confirm;
            FakeDelivery in = attempt(3);
            Instant before = Instant.now();

            CompletionStage<Void> done = pipeline(failing(new IllegalStateException("boom"))).process(in);

            Message dead = onlyDeadLetter();
            assertThat(in.settlements).as("not settled before the dead letter is confirmed").isEmpty();
            assertThat(done.toCompletableFuture()).isNotDone();

            confirm.complete(PublishReceipt.of(dead));

            assertThat(in.settlements).containsExactly("reject");
            assertThat(done.toCompletableFuture()).isCompleted();
            assertThat(listener.events).containsExactly("deadLettered orders.inventory.dlq");

            assertThat(dead.topic()).isEqualTo("orders.inventory.dlq");
            assertThat(dead.id()).isEqualTo("m-1");
            assertThat(dead.key()).isEqualTo("customer-7");
            assertThat(dead.payload()).isEqualTo(order().payload());
            assertThat(dead.contentType()).isEqualTo(ContentTypes.JSON);
            assertThat(dead.header("trace")).isEqualTo("abc");
            assertThat(dead.headers().contains(HeaderNames.ATTEMPT)).isFalse();
            assertThat(dead.header(HeaderNames.DLQ_REASON)).isEqualTo("gave up after 3 attempt(s): IllegalStateException: boom");
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_TOPIC)).isEqualTo("orders");
            assertThat(dead.header(HeaderNames.DLQ_ORIGINAL_GROUP)).isEqualTo("inventory");
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("3");
            assertThat(dead.header(HeaderNames.DLQ_POSITION)).isEqualTo("sequence=17");
            assertThat(dead.header(HeaderNames.DLQ_EXCEPTION)).isEqualTo("java.lang.IllegalStateException");
            assertThat(dead.header(HeaderNames.DLQ_STACK)).startsWith("java.lang.IllegalStateException: boom");
            assertThat(Instant.parse(dead.header(HeaderNames.DLQ_TIME))).isAfterOrEqualTo(before.minusSeconds(1));
        }

        @Test
        @DisplayName("with a NonRetryableException is dead-lettered on the first attempt")
        void nonRetryableAtOnce() {
            FakeDelivery in = attempt(1);

            pipeline(failing(new NonRetryableException("order o-1 has no lines"))).process(in);

            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_REASON))
                    .isEqualTo("non-retryable failure: NonRetryableException: order o-1 has no lines");
            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_EXCEPTION)).isEqualTo("dev.courier.NonRetryableException");
            assertThat(in.settlements).containsExactly("reject");
        }

        @Test
        @DisplayName("with a NonRetryableException as a cause is dead-lettered on the first attempt")
        void nonRetryableCause() {
            FakeDelivery in = attempt(1);

            pipeline(failing(new RuntimeException("wrapped", new NonRetryableException("bad")))).process(in);

            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_REASON))
                    .isEqualTo("non-retryable failure: RuntimeException: wrapped");
            assertThat(in.settlements).containsExactly("reject");
        }

        @Test
        @DisplayName("because the payload cannot be decoded is dead-lettered at once as an undecodable payload")
        void undecodable() {
            Message garbage = order().toBuilder().payload("{not json".getBytes(StandardCharsets.UTF_8)).build();
            FakeDelivery in = new FakeDelivery(garbage, 1);

            pipeline(d -> d.payload(Order.class)).process(in);

            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_REASON))
                    .startsWith("undecodable payload: cannot decode JSON payload as " + Order.class.getName());
            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_EXCEPTION)).isEqualTo("dev.courier.CodecException");
            assertThat(in.settlements).containsExactly("reject");
        }

        @Test
        @DisplayName("whose async stage fails is handled like a thrown exception")
        void asyncFailure() {
            FakeDelivery in = attempt(1);

            asyncPipeline(d -> CompletableFuture.failedFuture(new IllegalStateException("async boom"))).process(in);

            assertThat(in.settlements).containsExactly("nack PT0.25S");
            assertThat(listener.settled.get(0).cause()).hasMessage("async boom");
        }
    }

    @Nested
    @DisplayName("when the dead-letter publish fails")
    class DeadLetterPublishFails {

        @Test
        @DisplayName("the original is nacked for redelivery, never rejected")
        void failedConfirm() {
            binding.nextPublish = m -> CompletableFuture.failedFuture(new PublishException("orders.inventory.dlq", "broker said no", null));
            FakeDelivery in = attempt(3);

            CompletionStage<Void> done = pipeline(failing(new IllegalStateException("boom"))).process(in);

            assertThat(in.settlements).containsExactly("nack PT0.25S");
            assertThat(done.toCompletableFuture()).isCompleted();
            assertThat(listener.events).containsExactly("deadLetterFailed orders.inventory.dlq: publish to 'orders.inventory.dlq' failed: broker said no");
        }

        @Test
        @DisplayName("even when publish() throws instead of failing its stage, the original is nacked")
        void publishThrows() {
            binding.nextPublish = m -> {
                throw new IllegalStateException("connection closed");
            };
            FakeDelivery in = attempt(1);

            pipeline(failing(new NonRetryableException("bad"))).process(in);

            assertThat(in.settlements).containsExactly("nack PT0.25S");
        }
    }

    @Nested
    @DisplayName("explicit settlement")
    class ExplicitSettlement {

        @Test
        @DisplayName("ack() then throwing settles only once, as the ack")
        void ackThenThrow() {
            FakeDelivery in = attempt(3);

            pipeline(d -> {
                d.ack();
                throw new IllegalStateException("after ack");
            }).process(in);

            assertThat(in.settlements).containsExactly("ack");
            assertThat(binding.published).isEmpty();
            assertThat(listener.settled).extracting(Outcome::kind).containsExactly(Outcome.Kind.ACK);
        }

        @Test
        @DisplayName("nack(delay) redelivers after that delay and nack() after the subscription's")
        void nack() {
            FakeDelivery withDelay = attempt(1);
            FakeDelivery withDefault = attempt(1);

            pipeline(d -> d.nack(Duration.ofSeconds(7))).process(withDelay);
            pipeline(Delivery::nack).process(withDefault);

            assertThat(withDelay.settlements).containsExactly("nack PT7S");
            assertThat(withDefault.settlements).containsExactly("nack PT0.25S");
        }

        @Test
        @DisplayName("deadLetter(reason) publishes with that reason and no exception headers, then rejects")
        void deadLetter() {
            FakeDelivery in = attempt(1);

            pipeline(d -> d.deadLetter("customer unknown")).process(in);

            Message dead = onlyDeadLetter();
            assertThat(dead.header(HeaderNames.DLQ_REASON)).isEqualTo("customer unknown");
            assertThat(dead.headers().contains(HeaderNames.DLQ_EXCEPTION)).isFalse();
            assertThat(dead.headers().contains(HeaderNames.DLQ_STACK)).isFalse();
            assertThat(dead.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("1");
            assertThat(in.settlements).containsExactly("reject");
        }

        @Test
        @DisplayName("an async handler returning null keeps the delivery open until it settles it")
        void asyncSettlesLater() {
            FakeDelivery in = attempt(1);
            List<Delivery> handed = new ArrayList<>();

            CompletionStage<Void> done = asyncPipeline(d -> {
                handed.add(d);
                return null;
            }).process(in);

            assertThat(in.settlements).isEmpty();
            assertThat(done.toCompletableFuture()).isNotDone();

            handed.get(0).ack();

            assertThat(in.settlements).containsExactly("ack");
            assertThat(done.toCompletableFuture()).isCompleted();
            assertThat(handed.get(0).isSettled()).isTrue();
        }
    }

    @Nested
    @DisplayName("interceptors")
    class Interceptors {

        @Test
        @DisplayName("run in registration order around the handler")
        void order() {
            List<String> calls = Collections.synchronizedList(new ArrayList<>());
            Interceptor first = chain -> {
                calls.add("first before");
                return chain.proceed(chain.delivery()).thenApply(o -> {
                    calls.add("first after " + o.kind());
                    return o;
                });
            };
            Interceptor second = chain -> {
                calls.add("second before");
                return chain.proceed(chain.delivery()).thenApply(o -> {
                    calls.add("second after " + o.kind());
                    return o;
                });
            };
            FakeDelivery in = attempt(1);

            pipeline(d -> calls.add("handler"), first, second).process(in);

            assertThat(calls).containsExactly("first before", "second before", "handler", "second after ACK", "first after ACK");
            assertThat(in.settlements).containsExactly("ack");
        }

        @Test
        @DisplayName("one returning null fails the delivery with the interceptor's class name in the message")
        void nullOutcome() {
            FakeDelivery in = attempt(1);

            pipeline(d -> { }, new NullReturningInterceptor()).process(in);

            assertThat(listener.settled).hasSize(1);
            Outcome outcome = listener.settled.get(0);
            assertThat(outcome.kind()).isEqualTo(Outcome.Kind.FAILED);
            assertThat(outcome.cause())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("interceptor " + NullReturningInterceptor.class.getName()
                            + " returned null; it must return chain.proceed(...) or an Outcome");
            assertThat(in.settlements).containsExactly("nack PT0.25S");
        }

        @Test
        @DisplayName("one that throws fails the delivery like a handler exception")
        void throwing() {
            FakeDelivery in = attempt(3);

            pipeline(d -> { }, chain -> {
                throw new IllegalArgumentException("interceptor bug");
            }).process(in);

            assertThat(onlyDeadLetter().header(HeaderNames.DLQ_REASON))
                    .isEqualTo("gave up after 3 attempt(s): IllegalArgumentException: interceptor bug");
            assertThat(in.settlements).containsExactly("reject");
        }

        @Test
        @DisplayName("one may short-circuit the handler with its own outcome")
        void shortCircuit() {
            List<String> calls = new ArrayList<>();
            FakeDelivery in = attempt(1);

            pipeline(d -> calls.add("handler"), chain -> CompletableFuture.completedFuture(Outcome.nack(Duration.ofSeconds(2))))
                    .process(in);

            assertThat(calls).isEmpty();
            assertThat(in.settlements).containsExactly("nack PT2S");
        }
    }
}
