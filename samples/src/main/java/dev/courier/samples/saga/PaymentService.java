package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;
import dev.courier.samples.saga.SagaEvents.InventoryEvent;
import dev.courier.samples.saga.SagaEvents.PaymentEvent;
import dev.courier.samples.saga.SagaEvents.PaymentResult;
import dev.courier.samples.saga.SagaEvents.StockChange;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Charges customers for orders whose stock was reserved. The payment gateway of this sample is
 * flaky on purpose: it times out on the first {@code gatewayFailures} tries for the orders in
 * {@code flakyOrders}. The handler just throws; the reliability layer's retry policy tries again
 * in process after a backoff, so the message is not sent back to the broker. A customer without
 * enough money gets a declined payment, which starts the compensation in the inventory service.
 */
final class PaymentService {

    static final String GROUP = "payment";

    /** The gateway did not answer in time; worth trying again. */
    static final class GatewayTimeoutException extends RuntimeException {
        GatewayTimeoutException(String message) {
            super(message);
        }
    }

    private final Courier courier;
    private final SagaTopics topics;
    private final Timeline timeline;
    private final Map<String, Long> balances;
    private final Map<String, Integer> gatewayFailuresLeft;
    private final Map<String, Integer> tries = new ConcurrentHashMap<>();
    private final Set<String> charged = new HashSet<>();
    /** Results whose publish the broker has not confirmed yet: a retry publishes them again. */
    private final Map<String, PaymentEvent> unconfirmed = new HashMap<>();

    PaymentService(Courier courier, SagaTopics topics, Timeline timeline, Map<String, Long> balances,
                   Map<String, Integer> gatewayFailures) {
        this.courier = courier;
        this.topics = topics;
        this.timeline = timeline;
        this.balances = new HashMap<>(balances);
        this.gatewayFailuresLeft = new ConcurrentHashMap<>(gatewayFailures);
    }

    Subscription start() {
        Subscribe spec = Subscribe.to(topics.inventory()).group(GROUP).concurrency(4).ordering(Ordering.BY_KEY);
        return courier.subscribe(spec, d -> {
            InventoryEvent e = d.payload(InventoryEvent.class);
            if (e.change() == StockChange.RESERVED) {
                charge(e);
            }
        });
    }

    private void charge(InventoryEvent e) {
        int attempt = tries.merge(e.orderId(), 1, Integer::sum);
        int failuresLeft = gatewayFailuresLeft.getOrDefault(e.orderId(), 0);
        if (failuresLeft > 0) {
            gatewayFailuresLeft.put(e.orderId(), failuresLeft - 1);
            timeline.event("payment", "gateway timeout charging %s (try %d)", e.orderId(), attempt);
            throw new GatewayTimeoutException("payment gateway timed out for " + e.orderId());
        }
        PaymentEvent result;
        synchronized (this) {
            PaymentEvent pending = unconfirmed.get(e.orderId());
            if (pending != null) {
                // charged already, but publishing the result failed: publish the same result again, never charge twice
                result = pending;
                timeline.event("payment", "%s already charged; its result was not confirmed, publishing it again", e.orderId());
            } else if (!charged.add(e.orderId())) {
                timeline.event("payment", "%s already charged; duplicate ignored", e.orderId());
                return;
            } else {
                result = chargeLocked(e, attempt);
                unconfirmed.put(e.orderId(), result);
            }
        }
        courier.publisher().publish(topics.payments(), e.orderId(), result).toCompletableFuture().join();
        synchronized (this) {
            unconfirmed.remove(e.orderId());
        }
    }

    /** Charges the customer if the balance allows; the result to publish either way. Holds the lock. */
    private PaymentEvent chargeLocked(InventoryEvent e, int attempt) {
        long balance = balances.getOrDefault(e.customer(), 0L);
        if (balance < e.amountCents()) {
            timeline.event("payment", "declined %s for %s: %s has only %s", SagaEvents.money(e.amountCents()),
                    e.orderId(), e.customer(), SagaEvents.money(balance));
            return new PaymentEvent(PaymentResult.DECLINED, e.orderId(), e.customer(), e.sku(), e.quantity(),
                    e.amountCents(), "insufficient funds: " + e.customer() + " has " + SagaEvents.money(balance));
        }
        balances.put(e.customer(), balance - e.amountCents());
        timeline.event("payment", "charged %s %s for %s%s", e.customer(), SagaEvents.money(e.amountCents()),
                e.orderId(), attempt > 1 ? " (try " + attempt + ")" : "");
        return new PaymentEvent(PaymentResult.CHARGED, e.orderId(), e.customer(), e.sku(), e.quantity(), e.amountCents(), null);
    }

    synchronized Map<String, Long> balances() {
        return new TreeMap<>(balances);
    }
}
