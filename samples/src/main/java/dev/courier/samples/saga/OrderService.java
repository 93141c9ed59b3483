package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.reliability.deadletter.DeadLetter;
import dev.courier.samples.Timeline;
import dev.courier.samples.saga.SagaEvents.InventoryEvent;
import dev.courier.samples.saga.SagaEvents.OrderOutcome;
import dev.courier.samples.saga.SagaEvents.OrderPlaced;
import dev.courier.samples.saga.SagaEvents.OrderState;
import dev.courier.samples.saga.SagaEvents.PaymentEvent;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Places orders and drives each one to a final state from the events of the other services:
 * stock reserved and payment charged completes it; out of stock cancels it; a declined payment
 * waits for the inventory service to release the stock, then cancels it (compensation). An order
 * that reaches the dead-letter topic is final too. Every final state is announced on the outcomes
 * topic for the notification service.
 */
final class OrderService {

    static final String GROUP = "order";

    /** States an order passes through; the last three are final. */
    enum Status { PLACED, RESERVED, PAYMENT_DECLINED, COMPLETED, CANCELLED, DEAD_LETTERED }

    private final Courier courier;
    private final SagaTopics topics;
    private final Timeline timeline;
    private final Map<String, Status> status = new LinkedHashMap<>();
    private final Map<String, String> reasons = new LinkedHashMap<>();
    /** Outcomes of ended orders whose publish the broker has not confirmed yet: a retry publishes them again. */
    private final Map<String, OrderOutcome> unconfirmed = new HashMap<>();

    OrderService(Courier courier, SagaTopics topics, Timeline timeline) {
        this.courier = courier;
        this.topics = topics;
        this.timeline = timeline;
    }

    List<Subscription> start(String ordersDeadLetterTopic) {
        Subscribe events = Subscribe.to(topics.inventory()).group(GROUP).concurrency(4).ordering(Ordering.BY_KEY);
        Subscription inventory = courier.subscribe(events, d -> onInventory(d.payload(InventoryEvent.class)));
        Subscription payments = courier.subscribe(Subscribe.to(topics.payments()).group(GROUP).concurrency(4)
                .ordering(Ordering.BY_KEY), d -> onPayment(d.payload(PaymentEvent.class)));
        // Operations watch the orders' dead-letter topic without a group: they see every dead letter as
        // it arrives and consume none, so the topic keeps them for a list or a redrive once the cause is
        // fixed (DeadLetters). The key of a dead letter is still the order id; the failure is in its headers.
        Subscription deadLetters = courier.subscribe(Subscribe.to(ordersDeadLetterTopic), d -> {
            DeadLetter dl = DeadLetter.of(d.message());
            String orderId = d.message().key();
            timeline.event("operations", "dead letter %s from '%s' (group %s, %d attempt%s), exception %s, reason: %s",
                    orderId, topics.shortName(dl.originalTopic()), dl.originalGroup(), dl.attempts(),
                    dl.attempts() == 1 ? "" : "s", simpleName(dl.exceptionClass()), dl.reason());
            finish(orderId, null, Status.DEAD_LETTERED, dl.exceptionMessage().isEmpty() ? dl.reason() : dl.exceptionMessage());
        });
        return List.of(inventory, payments, deadLetters);
    }

    /** Publishes an order and waits for the broker's confirm. */
    void place(OrderPlaced o) {
        synchronized (this) {
            status.putIfAbsent(o.orderId(), Status.PLACED);
        }
        courier.publisher().publish(topics.orders(), o.orderId(), o).toCompletableFuture().join();
        timeline.event("order", "placed %s: %s buys %d x %s for %s", o.orderId(), o.customer(), o.quantity(), o.sku(),
                SagaEvents.money(o.amountCents()));
    }

    /** Publishes the same order again as a new message, as an upstream retry would. */
    void placeAgain(OrderPlaced o) {
        courier.publisher().publish(topics.orders(), o.orderId(), o).toCompletableFuture().join();
        timeline.event("order", "sent %s a second time (duplicate message on purpose)", o.orderId());
    }

    /** Publishes an order no service can accept (a client bug upstream, say). */
    void placeInvalid(OrderPlaced o) {
        synchronized (this) {
            status.putIfAbsent(o.orderId(), Status.PLACED);
        }
        courier.publisher().publish(topics.orders(), o.orderId(), o).toCompletableFuture().join();
        timeline.event("order", "placed %s: %s buys %d x %s (an invalid quantity)", o.orderId(), o.customer(), o.quantity(),
                o.sku());
    }

    private void onInventory(InventoryEvent e) {
        switch (e.change()) {
            case RESERVED -> advance(e.orderId(), Status.RESERVED);
            case OUT_OF_STOCK -> finish(e.orderId(), e.customer(), Status.CANCELLED, "out of stock: " + e.reason());
            case RELEASED -> finish(e.orderId(), e.customer(), Status.CANCELLED, e.reason() + ", stock released");
            default -> throw new IllegalStateException("unknown stock change " + e.change());
        }
    }

    private void onPayment(PaymentEvent p) {
        switch (p.result()) {
            case CHARGED -> finish(p.orderId(), p.customer(), Status.COMPLETED, null);
            case DECLINED -> {
                if (advance(p.orderId(), Status.PAYMENT_DECLINED)) {
                    timeline.event("order", "%s payment declined, waiting for inventory to release the stock", p.orderId());
                }
            }
            default -> throw new IllegalStateException("unknown payment result " + p.result());
        }
    }

    /** Moves a running order on; false if it had ended already (its events may arrive in any order across topics). */
    private synchronized boolean advance(String orderId, Status next) {
        Status now = status.get(orderId);
        if (now == null || !isFinal(now)) {
            status.put(orderId, next);
            return true;
        }
        return false;
    }

    private void finish(String orderId, String customer, Status end, String reason) {
        OrderOutcome outcome;
        synchronized (this) {
            Status now = status.get(orderId);
            if (now != null && isFinal(now)) {
                outcome = unconfirmed.get(orderId);
                if (outcome == null) {
                    return; // a redelivered event; the order already ended and its outcome went out
                }
                // the order ended but publishing its outcome failed (the handler threw): publish it again
                timeline.event("order", "%s outcome was not confirmed, publishing it again", orderId);
            } else {
                status.put(orderId, end);
                if (reason != null) {
                    reasons.put(orderId, reason);
                }
                timeline.event("order", "%s %s%s", orderId, end, reason == null ? "" : " (" + reason + ")");
                if (customer == null) {
                    return;
                }
                OrderState state = end == Status.COMPLETED ? OrderState.COMPLETED : OrderState.CANCELLED;
                outcome = new OrderOutcome(orderId, customer, state, reason);
                unconfirmed.put(orderId, outcome);
            }
        }
        courier.publisher().publish(topics.outcomes(), orderId, outcome).toCompletableFuture().join();
        synchronized (this) {
            unconfirmed.remove(orderId);
        }
    }

    private static String simpleName(String className) {
        return className.substring(Math.max(className.lastIndexOf('.'), className.lastIndexOf('$')) + 1);
    }

    static boolean isFinal(Status s) {
        return s == Status.COMPLETED || s == Status.CANCELLED || s == Status.DEAD_LETTERED;
    }

    synchronized Map<String, Status> statuses() {
        return new LinkedHashMap<>(status);
    }

    synchronized Map<String, String> reasons() {
        return new LinkedHashMap<>(reasons);
    }
}
