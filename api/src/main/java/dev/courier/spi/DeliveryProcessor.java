package dev.courier.spi;

import java.util.concurrent.CompletionStage;

/**
 * The core's handler chain for one subscription, as a binding calls it: runs interceptors and the
 * handler, applies the failure policy, dead-letters where needed, and settles the delivery. The
 * stage completes once the delivery is settled (for an asynchronous handler that settles
 * explicitly: when it does) and never completes exceptionally, so a binding can count the
 * delivery against its concurrency until then. Thread-safe.
 */
@FunctionalInterface
public interface DeliveryProcessor {
    CompletionStage<Void> process(InboundDelivery delivery);
}
