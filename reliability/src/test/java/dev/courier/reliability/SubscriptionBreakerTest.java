package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The circuit breaker's trial calls, against what the application does to its subscription and what its policy throws. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SubscriptionBreakerTest {

    private final TestCouriers couriers = new TestCouriers("breaker");
    private final String broker = couriers.broker;
    private final String topic = couriers.topic;

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    private Courier connect(Events events, Interceptor... interceptors) {
        return couriers.connect(events, interceptors);
    }

    /** Subscription.pause() "stops handing new messages to the handler": the breaker's half-open does not undo it. */
    @Test
    void breakerDoesNotResumeASubscriptionTheApplicationPaused() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(1).thenRedeliverAfter(Duration.ofMillis(10)))
                .circuitBreaker(CircuitBreakerPolicy.of(50, 1, 1, Duration.ofMillis(500))).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20));
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch fail = new CountDownLatch(1);
        List<String> handled = new CopyOnWriteArrayList<>();
        Subscription sub = courier.subscribe(spec, d -> {
            String text = d.payload(String.class);
            handled.add(text);
            if (text.equals("a") && d.attempt() == 1) {
                started.countDown();
                fail.await();
                throw new IllegalStateException("downstream down");
            }
        });
        courier.publisher().publish(courier.publisher().message(topic, "a").build()).toCompletableFuture().join();
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
        sub.pause();
        fail.countDown();
        Poll.until("the breaker opens and goes half-open", () -> events.sawTransitionTo("HALF_OPEN"), () -> events);
        courier.publisher().publish(courier.publisher().message(topic, "b").build()).toCompletableFuture().join();
        Thread.sleep(1_000);
        assertThat(sub.isPaused()).as("still paused, as the application asked").isTrue();
        assertThat(handled).as("nothing new handed to the paused subscription").doesNotContain("b");

        sub.resume();
        Poll.until("b is handled once the application resumed", () -> handled.contains("b"), () -> handled + " " + events);
    }

    /** The breaker pauses a subscription the application had paused too: the application's resume alone does not undo the breaker's pause. */
    @Test
    void applicationResumeDoesNotOverrideAnOpenBreaker() throws Exception {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(1).thenRedeliverAfter(Duration.ofMillis(10)))
                .circuitBreaker(CircuitBreakerPolicy.of(50, 1, 1, Duration.ofSeconds(30))).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20));
        Subscription sub = courier.subscribe(spec, d -> {
            throw new IllegalStateException("downstream down");
        });
        courier.publisher().publish(courier.publisher().message(topic, "a").build()).toCompletableFuture().join();
        Poll.until("the breaker opens", () -> events.sawTransitionTo("OPEN"), () -> events);
        assertThat(sub.isPaused()).as("the breaker paused it").isTrue();
        sub.pause();
        sub.resume();
        assertThat(sub.isPaused()).as("the breaker still holds it paused").isTrue();
    }

    /** A retryOn predicate that throws counts the attempt as failed; the half-open trial permit is given back all the same. */
    @Test
    void aThrowingRetryPredicateDoesNotWedgeTheHalfOpenBreaker() {
        Events events = new Events();
        CircuitBreakerConfig cfg = CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(1).minimumNumberOfCalls(1).failureRateThreshold(50)
                .permittedNumberOfCallsInHalfOpenState(1).waitDurationInOpenState(Duration.ofMillis(300)).build();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(1)
                        .retryOn(e -> !e.getMessage().startsWith("fatal")))
                .circuitBreaker(CircuitBreakerPolicy.of(cfg)).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).concurrency(4).ordering(Ordering.NONE);
        List<String> handled = new CopyOnWriteArrayList<>();
        courier.subscribe(spec, d -> {
            String text = d.payload(String.class);
            if (text.equals("a")) {
                throw new IllegalStateException("boom"); // opens the breaker, then is dead-lettered
            }
            if (text.equals("n")) {
                throw new IllegalStateException(); // no message: the predicate throws a NullPointerException
            }
            handled.add(text);
        });
        courier.publisher().publish(courier.publisher().message(topic, "a").build()).toCompletableFuture().join();
        Poll.until("half-open", () -> events.sawTransitionTo("HALF_OPEN"), () -> events);
        Message n = courier.publisher().message(topic, "n").build();
        courier.publisher().publish(n).toCompletableFuture().join();
        Poll.until("n, the half-open trial, failed as a retryable failure with no attempts left", () -> events.deadLettered.contains(n.id()),
                () -> handled + " " + events);
        courier.publisher().publish(courier.publisher().message(topic, "c").build()).toCompletableFuture().join();
        Poll.until("c is processed: the trial's permit came back", () -> handled.contains("c"), () -> handled + " " + events);
        assertThat(events.transitions).as("n's failure counted for the breaker: it opened again")
                .filteredOn(t -> t.from().equals("HALF_OPEN")).first().extracting(Events.Transition::to).isEqualTo("OPEN");
    }
}
