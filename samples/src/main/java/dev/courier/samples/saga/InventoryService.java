package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;
import dev.courier.samples.saga.SagaEvents.InventoryEvent;
import dev.courier.samples.saga.SagaEvents.OrderPlaced;
import dev.courier.samples.saga.SagaEvents.PaymentEvent;
import dev.courier.samples.saga.SagaEvents.PaymentResult;
import dev.courier.samples.saga.SagaEvents.StockChange;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reserves stock for placed orders and releases it when a payment is declined (the saga's
 * compensation). An order message that arrives twice is recognised by the reliability layer's
 * idempotency (keyed by order id, see {@link SagaSample#idempotencyKey}) and never reaches this
 * service; the reservations it keeps per order are a second line behind it. An invalid order
 * fails with {@link InvalidOrderException}, which the retry policy never retries: it is
 * dead-lettered at once.
 */
final class InventoryService {

    static final String GROUP = "inventory";

    /** The order itself is wrong (not the service's state): no attempt can succeed, so it is never retried. */
    static final class InvalidOrderException extends IllegalArgumentException {
        InvalidOrderException(String message) {
            super(message);
        }
    }

    private final Courier courier;
    private final SagaTopics topics;
    private final Timeline timeline;
    private final Map<String, Integer> stock;
    private final Map<String, OrderPlaced> reservations = new HashMap<>();
    /** Events of reservations whose publish the broker has not confirmed yet: a retry publishes them again. */
    private final Map<String, InventoryEvent> unconfirmed = new HashMap<>();
    private final AtomicInteger handled = new AtomicInteger();
    private final AtomicInteger duplicates = new AtomicInteger();
    private Subscribe ordersSpec;

    InventoryService(Courier courier, SagaTopics topics, Timeline timeline, Map<String, Integer> initialStock) {
        this.courier = courier;
        this.topics = topics;
        this.timeline = timeline;
        this.stock = new TreeMap<>(initialStock);
    }

    List<Subscription> start() {
        // retries, dead letters and duplicates are the reliability policy's business (see SagaSample.reliability)
        ordersSpec = Subscribe.to(topics.orders()).group(GROUP).concurrency(4).ordering(Ordering.BY_KEY);
        Subscription orders = courier.subscribe(ordersSpec, d -> reserve(d.payload(OrderPlaced.class)));
        // compensation: a declined payment releases the stock reserved for its order
        Subscription payments = courier.subscribe(Subscribe.to(topics.payments()).group(GROUP).concurrency(4)
                .ordering(Ordering.BY_KEY), d -> {
            PaymentEvent p = d.payload(PaymentEvent.class);
            if (p.result() == PaymentResult.DECLINED) {
                release(p);
            }
        });
        return List.of(orders, payments);
    }

    /** Where Courier sends orders this service cannot take (invalid, undecodable, or failing every attempt). */
    String deadLetterTopic() {
        return ordersSpec.deadLetterTopic();
    }

    private void reserve(OrderPlaced o) {
        validate(o);
        InventoryEvent event;
        synchronized (this) {
            InventoryEvent pending = unconfirmed.get(o.orderId());
            if (pending != null) {
                // the stock changed but publishing its event failed (the handler threw, so the order came back):
                // publish the same event again; the other services ignore what they have seen
                event = pending;
                timeline.event("inventory", "%s already reserved; its event was not confirmed, publishing it again", o.orderId());
            } else if (reservations.containsKey(o.orderId())) {
                // Second line: the idempotency store and this stock are updated one after the other, so an
                // order whose key was not completed (a crash after the reservation, a lease that ran out,
                // a store that forgot it) comes back here. Kept because it costs nothing.
                duplicates.incrementAndGet();
                handled.incrementAndGet();
                timeline.event("inventory", "%s already reserved; duplicate ignored (stock of %s stays %d)",
                        o.orderId(), o.sku(), stock.getOrDefault(o.sku(), 0));
                return;
            } else {
                event = reserveLocked(o);
                unconfirmed.put(o.orderId(), event);
            }
        }
        // returning acks the order only after the event is confirmed by the broker
        courier.publisher().publish(topics.inventory(), o.orderId(), event).toCompletableFuture().join();
        synchronized (this) {
            unconfirmed.remove(o.orderId());
        }
        handled.incrementAndGet();
    }

    /** Takes the stock for {@code o}, or finds there is not enough; the event to publish either way. Holds the lock. */
    private InventoryEvent reserveLocked(OrderPlaced o) {
        int available = stock.getOrDefault(o.sku(), 0);
        if (available < o.quantity()) {
            reservations.put(o.orderId(), null);
            timeline.event("inventory", "cannot reserve %d x %s for %s: only %d in stock", o.quantity(), o.sku(), o.orderId(), available);
            return new InventoryEvent(StockChange.OUT_OF_STOCK, o.orderId(), o.customer(), o.sku(), o.quantity(),
                    o.amountCents(), "only " + available + " x " + o.sku() + " in stock");
        }
        stock.put(o.sku(), available - o.quantity());
        reservations.put(o.orderId(), o);
        timeline.event("inventory", "reserved %d x %s for %s (%d left)", o.quantity(), o.sku(), o.orderId(), available - o.quantity());
        return new InventoryEvent(StockChange.RESERVED, o.orderId(), o.customer(), o.sku(), o.quantity(), o.amountCents(), null);
    }

    private static void validate(OrderPlaced o) {
        if (o.quantity() < 1) {
            throw new InvalidOrderException("quantity must be at least 1, was " + o.quantity());
        }
        if (o.sku() == null || o.sku().isBlank() || o.customer() == null || o.customer().isBlank()) {
            throw new InvalidOrderException("sku and customer are required");
        }
        if (o.amountCents() < 0) {
            throw new InvalidOrderException("amount must not be negative, was " + o.amountCents());
        }
    }

    private void release(PaymentEvent p) {
        int left;
        synchronized (this) {
            OrderPlaced reserved = reservations.get(p.orderId());
            if (reserved == null) {
                timeline.event("inventory", "nothing reserved for %s; release ignored", p.orderId());
                return;
            }
            left = stock.merge(reserved.sku(), reserved.quantity(), Integer::sum);
            reservations.put(p.orderId(), null);
        }
        timeline.event("inventory", "released %d x %s for %s (%d left)  <- compensation", p.quantity(), p.sku(),
                p.orderId(), left);
        courier.publisher().publish(topics.inventory(), p.orderId(), new InventoryEvent(StockChange.RELEASED,
                p.orderId(), p.customer(), p.sku(), p.quantity(), p.amountCents(), p.reason())).toCompletableFuture().join();
    }

    /** Order messages this service handled (reserved, refused, or ignored by its own duplicate check). */
    int handled() {
        return handled.get();
    }

    /** Duplicates that got past the idempotency layer and were ignored here. */
    int duplicates() {
        return duplicates.get();
    }

    synchronized Map<String, Integer> stock() {
        return new TreeMap<>(stock);
    }
}
