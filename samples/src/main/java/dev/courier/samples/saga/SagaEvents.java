package dev.courier.samples.saga;

/**
 * The messages the saga's services exchange. Every message is keyed by its order id, so the events
 * of one order are handled one at a time and in order by each service.
 */
public final class SagaEvents {

    private SagaEvents() {
    }

    /** The order service took an order; amounts are in cents. */
    public record OrderPlaced(String orderId, String customer, String sku, int quantity, long amountCents) {
    }

    /** What the inventory service did with an order's stock. */
    public enum StockChange { RESERVED, OUT_OF_STOCK, RELEASED }

    /** The inventory service reserved, refused or released the stock of an order. */
    public record InventoryEvent(StockChange change, String orderId, String customer, String sku, int quantity,
                                 long amountCents, String reason) {
    }

    /** What the payment service did with an order. */
    public enum PaymentResult { CHARGED, DECLINED }

    /** The payment service charged the customer or declined the payment. */
    public record PaymentEvent(PaymentResult result, String orderId, String customer, String sku, int quantity,
                               long amountCents, String reason) {
    }

    /** Final state of an order. */
    public enum OrderState { COMPLETED, CANCELLED, DEAD_LETTERED }

    /** The order service's final word on an order, for the notification service. */
    public record OrderOutcome(String orderId, String customer, OrderState state, String reason) {
    }

    /** Formats cents as dollars, for the timeline. */
    static String money(long cents) {
        return String.format("$%d.%02d", cents / 100, cents % 100);
    }
}
