package dev.courier.samples.orders;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The first sample: an order service publishes orders, an inventory service consumes them in a
 * group and reserves stock, and the order service asks for an order's status by request-reply.
 * One poisoned order (negative quantity) is dead-lettered. Runs on {@code mem://} by default;
 * set {@code COURIER_URL} (or {@code -Dcourier.url}) to run the same code on a real broker.
 */
public final class OrderFlowSample {

    /** An order was placed. */
    public record OrderPlaced(String orderId, String sku, int quantity) {
    }

    /** Asks for the status of an order. */
    public record StatusQuery(String orderId) {
    }

    /** The inventory service's answer. */
    public record OrderStatus(String orderId, String status) {
    }

    /** What happened, for the caller (and the sample's test). */
    public record Summary(int published, int reserved, int deadLettered, String status) {
    }

    private OrderFlowSample() {
    }

    public static void main(String[] args) {
        Summary s = run(CourierConfig.load(), System.out);
        System.exit(s.reserved() == s.published() - 1 && s.deadLettered() == 1 ? 0 : 1);
    }

    /** Runs the whole flow against the broker of {@code config} and returns what happened. */
    public static Summary run(CourierConfig config, PrintStream out) {
        String run = Long.toString(System.currentTimeMillis(), 36);
        String topic = "sample.orders." + run;
        List<OrderPlaced> orders = List.of(
                new OrderPlaced("o-1", "book", 2),
                new OrderPlaced("o-2", "lamp", 1),
                new OrderPlaced("o-3", "book", -5),          // poisoned: the inventory service refuses it
                new OrderPlaced("o-4", "desk", 1),
                new OrderPlaced("o-5", "book", 1));

        try (Courier courier = Courier.connect(config)) {
            out.println("connected to " + courier.url() + " (" + courier.capabilities().binding() + " binding)");
            Map<String, Integer> stock = new ConcurrentHashMap<>(Map.of("book", 10, "lamp", 3, "desk", 1));
            Map<String, String> statusByOrder = new ConcurrentHashMap<>();
            CountDownLatch settled = new CountDownLatch(orders.size());

            // inventory service: consumes orders in the "inventory" group, in order per SKU
            Subscribe inventorySpec = Subscribe.to(topic).group("inventory").concurrency(4).ordering(Ordering.BY_KEY)
                    .maxAttempts(2).redeliveryDelay(Duration.ofMillis(100));
            Subscription inventory = courier.subscribe(inventorySpec, delivery -> {
                OrderPlaced o = delivery.payload(OrderPlaced.class);
                if (o.quantity() <= 0) {
                    out.printf("  inventory  : order %s has quantity %d, attempt %d fails%n", o.orderId(), o.quantity(), delivery.attempt());
                    if (delivery.attempt() >= inventorySpec.maxAttempts()) {
                        settled.countDown();
                    }
                    throw new IllegalArgumentException("quantity must be positive, was " + o.quantity());
                }
                int left = stock.merge(o.sku(), -o.quantity(), Integer::sum);
                statusByOrder.put(o.orderId(), "RESERVED");
                out.printf("  inventory  : reserved %d x %s for %s (%d left)%n", o.quantity(), o.sku(), o.orderId(), left);
                settled.countDown();
            });

            // operations: watches the dead-letter topic
            List<String> deadLetters = new ArrayList<>();
            CountDownLatch deadSeen = new CountDownLatch(1);
            Subscription ops = courier.subscribe(Subscribe.to(inventorySpec.deadLetterTopic()).group("ops"), delivery -> {
                synchronized (deadLetters) {
                    deadLetters.add(delivery.payload(OrderPlaced.class).orderId());
                }
                out.printf("  operations : dead letter %s, reason: %s%n", delivery.payload(OrderPlaced.class).orderId(),
                        delivery.message().header("courier-dlq-reason"));
                deadSeen.countDown();
            });

            // the inventory service also answers status queries
            Subscription statusService = courier.respond(Subscribe.to(topic + ".status").group("inventory"), delivery -> {
                StatusQuery q = delivery.payload(StatusQuery.class);
                return new OrderStatus(q.orderId(), statusByOrder.getOrDefault(q.orderId(), "UNKNOWN"));
            });

            // order service: publishes the orders keyed by SKU and waits for the broker's confirms
            for (OrderPlaced o : orders) {
                courier.publisher().publish(topic, o.sku(), o).toCompletableFuture().join();
                out.printf("  orders     : published %s (%d x %s)%n", o.orderId(), o.quantity(), o.sku());
            }

            await(settled, "orders to be handled");
            await(deadSeen, "the poisoned order to reach the dead-letter topic");

            OrderStatus status = courier.requester()
                    .request(topic + ".status", new StatusQuery("o-1"), OrderStatus.class, Duration.ofSeconds(10))
                    .toCompletableFuture().join();
            out.printf("  orders     : status of %s is %s%n", status.orderId(), status.status());

            inventory.close();
            ops.close();
            statusService.close();
            int reserved = (int) statusByOrder.values().stream().filter("RESERVED"::equals).count();
            Summary summary = new Summary(orders.size(), reserved, deadLetters.size(), status.status());
            out.printf("summary: %d published, %d reserved, %d dead-lettered; stock now %s%n",
                    summary.published(), summary.reserved(), summary.deadLettered(), new java.util.TreeMap<>(stock));
            return summary;
        }
    }

    private static void await(CountDownLatch latch, String what) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("timed out waiting for " + what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for " + what, e);
        }
    }
}
