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

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reserves stock for placed orders and releases it when a payment is declined (the saga's
 * compensation). Reservations are idempotent: the reservation id is the order id, so a second
 * message for the same order changes nothing and is counted as a duplicate. An order whose
 * payload cannot be decoded is dead-lettered by Courier before this service sees it.
 */
final class InventoryService {

    static final String GROUP = "inventory";

    private final Courier courier;
    private final SagaTopics topics;
    private final Timeline timeline;
    private final Map<String, Integer> stock;
    private final Map<String, OrderPlaced> reservations = new HashMap<>();
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
        ordersSpec = Subscribe.to(topics.orders()).group(GROUP).concurrency(4).ordering(Ordering.BY_KEY)
                .maxAttempts(3).redeliveryDelay(Duration.ofMillis(200));
        Subscription orders = courier.subscribe(ordersSpec, d -> reserve(d.payload(OrderPlaced.class)));
        // compensation: a declined payment releases the stock reserved for its order
        Subscription payments = courier.subscribe(Subscribe.to(topics.payments()).group(GROUP).concurrency(4)
                .ordering(Ordering.BY_KEY).redeliveryDelay(Duration.ofMillis(200)), d -> {
            PaymentEvent p = d.payload(PaymentEvent.class);
            if (p.result() == PaymentResult.DECLINED) {
                release(p);
            }
        });
        return List.of(orders, payments);
    }

    /** Where Courier sends orders this service cannot take (undecodable, or failing every attempt). */
    String deadLetterTopic() {
        return ordersSpec.deadLetterTopic();
    }

    private void reserve(OrderPlaced o) {
        InventoryEvent event;
        synchronized (this) {
            if (reservations.containsKey(o.orderId())) {
                duplicates.incrementAndGet();
                handled.incrementAndGet();
                timeline.event("inventory", "duplicate reservation for %s ignored (stock of %s stays %d)",
                        o.orderId(), o.sku(), stock.getOrDefault(o.sku(), 0));
                return;
            }
            int available = stock.getOrDefault(o.sku(), 0);
            if (available < o.quantity()) {
                reservations.put(o.orderId(), null);
                event = new InventoryEvent(StockChange.OUT_OF_STOCK, o.orderId(), o.customer(), o.sku(), o.quantity(),
                        o.amountCents(), "only " + available + " x " + o.sku() + " in stock");
                timeline.event("inventory", "cannot reserve %d x %s for %s: only %d in stock",
                        o.quantity(), o.sku(), o.orderId(), available);
            } else {
                stock.put(o.sku(), available - o.quantity());
                reservations.put(o.orderId(), o);
                event = new InventoryEvent(StockChange.RESERVED, o.orderId(), o.customer(), o.sku(), o.quantity(),
                        o.amountCents(), null);
                timeline.event("inventory", "reserved %d x %s for %s (%d left)", o.quantity(), o.sku(), o.orderId(),
                        available - o.quantity());
            }
        }
        // returning acks the order only after the event is confirmed by the broker
        courier.publisher().publish(topics.inventory(), o.orderId(), event).toCompletableFuture().join();
        handled.incrementAndGet();
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

    /** Order messages fully handled (reserved, refused, or ignored as a duplicate). */
    int handled() {
        return handled.get();
    }

    int duplicates() {
        return duplicates.get();
    }

    synchronized Map<String, Integer> stock() {
        return new TreeMap<>(stock);
    }
}
