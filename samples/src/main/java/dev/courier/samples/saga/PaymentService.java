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
            if (!charged.add(e.orderId())) {
                timeline.event("payment", "%s already charged; duplicate ignored", e.orderId());
                return;
            }
            long balance = balances.getOrDefault(e.customer(), 0L);
            if (balance < e.amountCents()) {
                result = new PaymentEvent(PaymentResult.DECLINED, e.orderId(), e.customer(), e.sku(), e.quantity(),
                        e.amountCents(), "insufficient funds: " + e.customer() + " has " + SagaEvents.money(balance));
                timeline.event("payment", "declined %s for %s: %s has only %s", SagaEvents.money(e.amountCents()),
                        e.orderId(), e.customer(), SagaEvents.money(balance));
            } else {
                balances.put(e.customer(), balance - e.amountCents());
                result = new PaymentEvent(PaymentResult.CHARGED, e.orderId(), e.customer(), e.sku(), e.quantity(),
                        e.amountCents(), null);
                timeline.event("payment", "charged %s %s for %s%s", e.customer(), SagaEvents.money(e.amountCents()),
                        e.orderId(), attempt > 1 ? " (try " + attempt + ")" : "");
            }
        }
        courier.publisher().publish(topics.payments(), e.orderId(), result).toCompletableFuture().join();
    }

    synchronized Map<String, Long> balances() {
        return new TreeMap<>(balances);
    }
}
