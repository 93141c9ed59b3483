package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Message;
import dev.courier.Subscription;
import dev.courier.reliability.Idempotency;
import dev.courier.reliability.Reliability;
import dev.courier.reliability.RetryPolicy;
import dev.courier.reliability.deadletter.DeadLetter;
import dev.courier.reliability.deadletter.DeadLetters;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
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
 *   <li>inventory service: reserves stock and releases it when a payment is declined;</li>
 *   <li>payment service: charges customers through a flaky gateway;</li>
 *   <li>notification service: tells customers how their order ended;</li>
 *   <li>operations: watch the dead-letter topic of the orders.</li>
 * </ul>
 *
 * <p>The Courier is built with the reliability policy of {@link #reliability}: in-process retry with
 * backoff (the gateway's timeouts), invalid orders dead-lettered at once, and idempotency (a
 * duplicate order never reaches the inventory service). A {@link CourierListener} puts what the
 * policy decided on the timeline.
 *
 * <p>The scenario is fixed: three orders complete (one after two gateway timeouts, one sent twice),
 * one is cancelled for insufficient funds after its stock was released, one is cancelled for lack
 * of stock, and one is invalid and is dead-lettered. The run waits until every order is in a final
 * state, lists the pending dead letters, prints a summary and exits 0; if that takes longer than
 * {@code courier.sample.timeout} (default 60s) it fails with a message naming the orders that are
 * stuck and exits 1.
 *
 * <p>Runs on {@code mem://} by default; set {@code COURIER_URL} (or {@code -Dcourier.url}) to run
 * the same code on Kafka, RabbitMQ or NATS.
 */
public final class SagaSample {

    /** Config key: how long to wait for every order to reach a final state. */
    public static final String TIMEOUT = "courier.sample.timeout";
    /** Default of {@link #TIMEOUT}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    /** How long the closing dead-letter listing waits for a dead letter it has not found yet before it stops. */
    static final Duration DEAD_LETTER_LIST_IDLE = Duration.ofSeconds(5);

    /**
     * What the run did, for the caller and the sample's tests. {@code duplicatesIgnored} counts the
     * order messages skipped as duplicates (by the idempotency layer, or by the inventory service's own
     * check behind it); {@code paymentRetries} the failed payment attempts the retry policy retried.
     */
    public record Summary(int placed, int completed, int cancelled, int deadLettered, int duplicatesIgnored,
                          int paymentRetries, int notificationsSent, Map<String, Integer> stock,
                          Map<String, Long> balancesCents) {

        /** Whether every order reached a final state. */
        public boolean allSettled() {
            return placed == completed + cancelled + deadLettered;
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
     * The failure policy every subscription of the saga runs under, as an application would set it
     * up once for its Courier:
     * <ul>
     *   <li>retry: up to 4 attempts in process with exponential backoff (100 ms, 200 ms, 400 ms, each
     *       &plusmn;50% jitter), then once more through the broker after 2 s, then the dead-letter topic;</li>
     *   <li>an {@link InventoryService.InvalidOrderException} is never retried: the order itself is
     *       wrong, so it is dead-lettered after its first attempt;</li>
     *   <li>idempotency in an in-memory store (one process runs every service here; several processes
     *       would share a JDBC or Redis store), keyed by {@link #idempotencyKey}.</li>
     * </ul>
     */
    static Reliability reliability(SagaTopics topics) {
        return Reliability.builder()
                .retry(RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(2))
                        .attempts(4)
                        .jitter(0.5)
                        .neverRetryOn(InventoryService.InvalidOrderException.class)
                        .thenRedeliverAfter(Duration.ofSeconds(2)))
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())
                        .key(m -> idempotencyKey(topics, m))
                        .lease(Duration.ofMinutes(1))
                        .retention(Duration.ofHours(1)))
                .build();
    }

    /**
     * What makes two messages "the same" for the idempotency layer (per group). An order is reserved
     * once however many messages carry it, so orders are keyed by their business key, the order id
     * (the message key): the order service's retry of a publish is a new message with a new id. An
     * order has several events on one topic (reserved, then released), so events are keyed by
     * message id: only a redelivery of the same message is a duplicate.
     */
    static String idempotencyKey(SagaTopics topics, Message m) {
        return topics.orders().equals(m.topic()) && m.key() != null ? "order:" + m.key() : m.id();
    }

    /**
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
        OrderPlaced invalid = new OrderPlaced("o-6", "frank", "book", -2, 0); // dead-lettered: invalid quantity

        ReliabilityTimeline events = new ReliabilityTimeline(topics, timeline);
        try (Courier courier = Courier.builder().config(config).interceptor(reliability(topics)).listener(events).connect()) {
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
            order.placeInvalid(invalid);

            int orderMessages = orders.size() + 1; // the duplicate too; the invalid one is dead-lettered instead
            awaitFinal(order, inventory, events, notification, orderMessages, timeout);
            subscriptions.forEach(Subscription::close);

            Map<String, OrderService.Status> statuses = order.statuses();
            int dead = count(statuses, OrderService.Status.DEAD_LETTERED);
            listDeadLetters(courier, inventory.deadLetterTopic(), dead, topics, timeline);

            int completed = count(statuses, OrderService.Status.COMPLETED);
            int cancelled = count(statuses, OrderService.Status.CANCELLED);
            Summary s = new Summary(statuses.size(), completed, cancelled, dead,
                    events.duplicateOrders() + inventory.duplicates(), events.paymentRetries(), notification.sent(),
                    inventory.stock(), payment.balances());
            timeline.note("");
            timeline.note("orders:");
            statuses.forEach((id, st) -> timeline.note("  %-4s %-13s %s", id, st, order.reasons().getOrDefault(id, "")));
            timeline.note("summary: %d orders placed, %d completed, %d cancelled, %d dead-lettered, "
                            + "%d duplicate ignored, %d payment retries, %d notifications",
                    s.placed(), s.completed(), s.cancelled(), s.deadLettered(), s.duplicatesIgnored(),
                    s.paymentRetries(), s.notificationsSent());
            timeline.note("stock %s, balances %s", s.stock(), s.balancesCents().entrySet().stream()
                    .map(e -> e.getKey() + "=" + SagaEvents.money(e.getValue())).collect(Collectors.joining(", ", "{", "}")));
            return s;
        }
    }

    /**
     * What operations would look at before a redrive: the dead letters still pending, with their
     * failure. Asks for as many as operations saw, so it returns as soon as it found them; the idle
     * timeout only bounds the wait when fewer are there.
     */
    private static void listDeadLetters(Courier courier, String deadLetterTopic, int expected, SagaTopics topics,
                                        Timeline timeline) {
        long start = System.nanoTime();
        List<DeadLetter> pending = DeadLetters.of(courier).list(deadLetterTopic, Math.max(1, expected), DEAD_LETTER_LIST_IDLE);
        timeline.note("");
        timeline.note("dead letters pending in %s: %d (DeadLetters.list, %d ms)", topics.shortName(deadLetterTopic),
                pending.size(), Duration.ofNanos(System.nanoTime() - start).toMillis());
        pending.forEach(dl -> timeline.note("  %-4s %s/%s, %d attempt(s), %s", dl.message().key(),
                topics.shortName(dl.originalTopic()), dl.originalGroup(), dl.attempts(), dl.reason()));
    }

    private static void awaitFinal(OrderService order, InventoryService inventory, ReliabilityTimeline events,
                                   NotificationService notification, int orderMessages, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, OrderService.Status> statuses = order.statuses();
            long finals = statuses.values().stream().filter(OrderService::isFinal).count();
            long announced = statuses.values().stream()
                    .filter(st -> st == OrderService.Status.COMPLETED || st == OrderService.Status.CANCELLED).count();
            int ordersTaken = inventory.handled() + events.duplicateOrders();
            if (finals == statuses.size() && ordersTaken >= orderMessages && notification.sent() >= announced) {
                return;
            }
            if (System.nanoTime() > deadline) {
                String stuck = statuses.entrySet().stream().filter(e -> !OrderService.isFinal(e.getValue()))
                        .map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
                throw new SagaTimeoutException("after " + timeout.toSeconds() + "s not every order reached a final state"
                        + (stuck.isEmpty() ? "" : ": " + stuck) + "; inventory took " + ordersTaken + " of "
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
