package dev.courier.reliability;

import dev.courier.Courier;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A synchronous handler that settles its delivery itself ({@code nack}, {@code deadLetter}) and then
 * returns normally: the policy goes by that settlement, not by the normal return.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ExplicitSettlementTest {

    private final TestCouriers couriers = new TestCouriers("settle");
    private final String broker = couriers.broker;
    private final String topic = couriers.topic;

    @AfterEach
    void close() throws Exception {
        couriers.close();
    }

    private Courier connect(Events events, Interceptor... interceptors) {
        return couriers.connect(events, interceptors);
    }

    /** "Not ready yet, give it to me again later": the redelivery the handler asked for reaches it, not the duplicate check. */
    @Test
    void explicitNackFromSyncHandlerIsNotTurnedIntoDoneKey() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)), d -> {
            if (runs.incrementAndGet() == 1) {
                d.nack(Duration.ofMillis(50));
            }
        });
        Message m = courier.publisher().message(topic, "later").build();
        courier.publisher().publish(m).toCompletableFuture().join();

        Poll.until("the redelivery is settled", () -> events.settled.size() >= 2, () -> events);
        Poll.until("the handler sees the redelivery", () -> runs.get() >= 2, () -> "runs=" + runs + " " + events);
        assertThat(events.duplicates).as("the redelivery the handler asked for is not a duplicate").isEmpty();
    }

    /** The group that dead-lettered a message itself released its key: a redriven copy is processed again. */
    @Test
    void explicitDeadLetterFromSyncHandlerReleasesTheKey() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20));
        List<Message> dlq = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to(spec.deadLetterTopic()).group("r"), d -> dlq.add(d.message()));
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(spec, d -> {
            if (runs.incrementAndGet() == 1) {
                d.deadLetter("invalid for now");
            }
        });
        Message m = courier.publisher().message(topic, "x").id("x-" + UUID.randomUUID()).build();
        courier.publisher().publish(m).toCompletableFuture().join();
        Poll.until("dead-lettered", () -> dlq.size() == 1, () -> events);
        courier.publisher().publish(m).toCompletableFuture().join(); // published again with the same id
        Poll.until("the copy is settled", () -> events.settled.size() >= 2, () -> events);
        Poll.until("the handler processes it again", () -> runs.get() >= 2, () -> "runs=" + runs + " " + events);
        assertThat(events.duplicates).isEmpty();
    }

    /** An explicit settlement ends the delivery: a failure thrown after it is not retried in process. */
    @Test
    void explicitNackThenThrowIsNotRetriedInProcess() {
        Events events = new Events();
        Courier courier = connect(events, Reliability.builder()
                .retry(RetryPolicy.fixed(Duration.ofMillis(10)).jitter(0).attempts(3)).build());
        AtomicInteger runs = new AtomicInteger();
        courier.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)), d -> {
            if (runs.incrementAndGet() == 1) {
                d.nack(Duration.ofMillis(50));
                throw new IllegalStateException("and then failed");
            }
        });
        courier.publisher().publish(courier.publisher().message(topic, "x").build()).toCompletableFuture().join();
        Poll.until("the redelivery is acked", () -> events.acked.size() == 1, () -> "runs=" + runs + " " + events);
        assertThat(runs.get()).as("one run for the nacked delivery, one for its redelivery").isEqualTo(2);
        assertThat(events.retries).as("no in-process retry after the explicit nack").isEmpty();
    }
}
