package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;
import dev.courier.samples.saga.SagaEvents.OrderPlaced;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The main sample: an e-commerce order saga across four services that talk only through Courier.
 *
 * <ul>
 *   <li>order service: places orders and drives each to a final state;</li>
 *   <li>inventory service: reserves stock (idempotently) and releases it when a payment is declined;</li>
 *   <li>payment service: charges customers through a flaky gateway (retried by redelivery);</li>
 *   <li>notification service: tells customers how their order ended;</li>
 *   <li>operations: watch the dead-letter topic of the orders.</li>
 * </ul>
 *
 * <p>The scenario is fixed: three orders complete (one after two gateway timeouts, one sent twice),
 * one is cancelled for insufficient funds after its stock was released, one is cancelled for lack
 * of stock, and one cannot be decoded and is dead-lettered. The run waits until every order is in a
 * final state, prints a summary and exits 0; if that takes longer than {@code courier.sample.timeout}
 * (default 60s) it fails with a message naming the orders that are stuck and exits 1.
 *
 * <p>Runs on {@code mem://} by default; set {@code COURIER_URL} (or {@code -Dcourier.url}) to run
 * the same code on Kafka, RabbitMQ or NATS.
 */
public final class SagaSample {

    /** Config key: how long to wait for every order to reach a final state. */
    public static final String TIMEOUT = "courier.sample.timeout";
    /** Default of {@link #TIMEOUT}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    /** What the run did, for the caller and the sample's tests. */
    public record Summary(int placed, int completed, int compensated, int deadLettered, int duplicatesIgnored,
                          int paymentRetries, int notificationsSent, Map<String, Integer> stock,
                          Map<String, Long> balancesCents) {

        /** Whether every order reached a final state. */
        public boolean allSettled() {
            return placed == completed + compensated + deadLettered;
        }
    }

    /** The orders did not all reach a final state in time. */
    public static final class SagaTimeoutException extends RuntimeException {
        SagaTimeoutException(String message) {
            super(message);
        }
    }

    static final Map<String, Integer> INITIAL_STOCK = Map.of("book", 10, "lamp", 3, "desk", 1, "chair", 3);
    static final Map<String, Long> INITIAL_BALANCES = Map.of("alice", 10_000L, "bob", 10_000L, "carol", 10_000L,
            "dave", 10_000L, "erin", 10_000L);

    private SagaSample() {
    }

    /**
     * 
     * Runs the saga on the broker of {@code courier.url} / {@code COURIER_URL} (default {@code mem://}); exit code 0 when every order ended.
     */
    public static void main(String[] args) {
        CourierConfig config = CourierConfig.load();
        try {
            Summary s = run(config, System.out);
            System.exit(s.allSettled() ? 0 : 1);
        } catch (RuntimeException e) {
            System.err.println("saga sample failed on " + CourierConfig.maskUrl(config.url()) + ": " + e.getMessage());
            System.exit(1);
        }
    }

    /**
     * Runs the scenario against the broker of {@code config}, printing the timeline to {@code out}.
     *
     * @throws SagaTimeoutException if the orders are not all final within {@link #TIMEOUT}
     */
    public static Summary run(CourierConfig config, PrintStream out) {
        Duration timeout = config.duration(TIMEOUT, DEFAULT_TIMEOUT);
        String prefix = "saga." + Long.toString(System.currentTimeMillis(), 36) + Integer.toString((int) (Math.random() * 1296), 36);
        SagaTopics topics = SagaTopics.withPrefix(prefix);
        Timeline timeline = new Timeline(out);

        List<OrderPlaced> orders = List.of(
                new OrderPlaced("o-1", "alice", "book", 2, 3_000),   // completes; its message is sent twice
                new OrderPlaced("o-2", "bob", "lamp", 1, 4_500),     // completes after two gateway timeouts
                new OrderPlaced("o-3", "carol", "desk", 1, 25_000),  // declined: carol has $100 -> stock released
                new OrderPlaced("o-4", "dave", "chair", 5, 5_000),   // cancelled: only 3 chairs
                new OrderPlaced("o-5", "erin", "book", 1, 1_500));   // completes
        String poisonedId = "o-6";
        String poisoned = "{\"orderId\":\"o-6\",\"customer\":\"frank\",\"sku\":\"book\",\"quantity\":\"lots\"}";

        try (Courier courier = Courier.connect(config)) {
            timeline.note("saga sample on %s (%s binding), topics %s.*", CourierConfig.maskUrl(courier.url()),
                    courier.capabilities().binding(), prefix);
            InventoryService inventory = new InventoryService(courier, topics, timeline, INITIAL_STOCK);
            PaymentService payment = new PaymentService(courier, topics, timeline, INITIAL_BALANCES, Map.of("o-2", 2));
            NotificationService notification = new NotificationService(courier, topics, timeline);
            OrderService order = new OrderService(courier, topics, timeline);

            List<Subscription> subscriptions = new ArrayList<>(inventory.start());
            subscriptions.add(payment.start());
            subscriptions.add(notification.start());
            subscriptions.addAll(order.start(inventory.deadLetterTopic()));

            for (OrderPlaced o : orders) {
                order.place(o);
                if (o.orderId().equals("o-1")) {
                    order.placeAgain(o);
                }
            }
            order.placePoisoned(poisonedId, poisoned);

            int orderMessages = orders.size() + 1; // the duplicate; the poisoned one never reaches the service
            awaitFinal(order, inventory, notification, orderMessages, timeout);
            subscriptions.forEach(Subscription::close);

            Map<String, OrderService.Status> statuses = order.statuses();
            int completed = count(statuses, OrderService.Status.COMPLETED);
            int cancelled = count(statuses, OrderService.Status.CANCELLED);
            int dead = count(statuses, OrderService.Status.DEAD_LETTERED);
            Summary s = new Summary(statuses.size(), completed, cancelled, dead, inventory.duplicates(),
                    payment.retries(), notification.sent(), inventory.stock(), payment.balances());
            timeline.note("");
            timeline.note("orders:");
            statuses.forEach((id, st) -> timeline.note("  %-4s %-13s %s", id, st, order.reasons().getOrDefault(id, "")));
            timeline.note("summary: %d orders placed, %d completed, %d compensated, %d dead-lettered, "
                            + "%d duplicate ignored, %d payment retries, %d notifications",
                    s.placed(), s.completed(), s.compensated(), s.deadLettered(), s.duplicatesIgnored(),
                    s.paymentRetries(), s.notificationsSent());
            timeline.note("stock %s, balances %s", s.stock(), s.balancesCents().entrySet().stream()
                    .map(e -> e.getKey() + "=" + SagaEvents.money(e.getValue())).collect(Collectors.joining(", ", "{", "}")));
            return s;
        }
    }

    private static void awaitFinal(OrderService order, InventoryService inventory, NotificationService notification,
                                   int orderMessages, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, OrderService.Status> statuses = order.statuses();
            long finals = statuses.values().stream().filter(OrderService::isFinal).count();
            long announced = statuses.values().stream()
                    .filter(st -> st == OrderService.Status.COMPLETED || st == OrderService.Status.CANCELLED).count();
            if (finals == statuses.size() && inventory.handled() >= orderMessages && notification.sent() >= announced) {
                return;
            }
            if (System.nanoTime() > deadline) {
                String stuck = statuses.entrySet().stream().filter(e -> !OrderService.isFinal(e.getValue()))
                        .map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
                throw new SagaTimeoutException("after " + timeout.toSeconds() + "s not every order reached a final state"
                        + (stuck.isEmpty() ? "" : ": " + stuck) + "; inventory handled " + inventory.handled() + " of "
                        + orderMessages + " order messages, " + notification.sent() + " of " + announced
                        + " notifications sent. Is the broker reachable? Raise -D" + TIMEOUT + " on a slow machine.");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the orders", e);
            }
        }
    }

    private static int count(Map<String, OrderService.Status> statuses, OrderService.Status s) {
        return (int) statuses.values().stream().filter(s::equals).count();
    }
}
