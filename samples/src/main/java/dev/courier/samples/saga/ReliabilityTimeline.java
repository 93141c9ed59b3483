package dev.courier.samples.saga;

import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Subscribe;
import dev.courier.samples.Timeline;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Puts what the reliability layer decided on the saga's timeline (as the {@code courier} service)
 * and counts it for the summary: retries, duplicates skipped, dead letters. An application would
 * feed the same events to its metrics instead. Thread-safe; every method is quick, as a
 * {@link CourierListener} must be.
 */
final class ReliabilityTimeline implements CourierListener {

    private final SagaTopics topics;
    private final Timeline timeline;
    private final AtomicInteger paymentRetries = new AtomicInteger();
    private final AtomicInteger duplicateOrders = new AtomicInteger();
    private final AtomicInteger deadLetters = new AtomicInteger();

    ReliabilityTimeline(SagaTopics topics, Timeline timeline) {
        this.topics = topics;
        this.timeline = timeline;
    }

    @Override
    public void retrying(Delivery d, int attempt, Duration delay, boolean inProcess, Throwable cause) {
        if (PaymentService.GROUP.equals(d.group())) {
            paymentRetries.incrementAndGet();
        }
        timeline.event("courier", "attempt %d of %s failed in %s (%s); %s in %d ms", attempt, describe(d), d.group(),
                cause == null ? "no exception" : cause.getClass().getSimpleName(), inProcess ? "retrying in process" : "the broker redelivers it",
                delay.toMillis());
    }

    @Override
    public void duplicateSkipped(Delivery d, String idempotencyKey, boolean stillInProgress) {
        if (!stillInProgress && InventoryService.GROUP.equals(d.group()) && topics.orders().equals(d.topic())) {
            duplicateOrders.incrementAndGet();
        }
        timeline.event("courier", "duplicate %s skipped for %s: key '%s' %s", describe(d), d.group(), idempotencyKey,
                stillInProgress ? "still in progress, redelivered later" : "already processed");
    }

    @Override
    public void deadLettered(Delivery d, String deadLetterTopic, String reason) {
        deadLetters.incrementAndGet();
        timeline.event("courier", "%s in %s dead-lettered to '%s': %s", describe(d), d.group(),
                topics.shortName(deadLetterTopic), reason);
    }

    @Override
    public void handlerTimedOut(Delivery d, Duration timeout) {
        timeline.event("courier", "%s took longer than %d ms in %s", describe(d), timeout.toMillis(), d.group());
    }

    @Override
    public void circuitStateChanged(Subscribe s, String breaker, String from, String to) {
        timeline.event("courier", "circuit breaker %s: %s -> %s", breaker, from, to);
    }

    /** Payment gateway failures retried (in process or by the broker). */
    int paymentRetries() {
        return paymentRetries.get();
    }

    /** Orders the idempotency layer recognised as already reserved and acked without running the inventory service. */
    int duplicateOrders() {
        return duplicateOrders.get();
    }

    /** Messages dead-lettered (confirmed by the broker). */
    int deadLetters() {
        return deadLetters.get();
    }

    /** "o-2 on 'inventory'": every saga message is keyed by its order id. */
    private String describe(Delivery d) {
        return d.message().key() + " on '" + topics.shortName(d.topic()) + "'";
    }
}
