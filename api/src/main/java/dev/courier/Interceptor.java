package dev.courier;

import java.util.concurrent.CompletionStage;

/**
 * One link of the handler chain around every subscription's handler: observe, transform, retry
 * or short-circuit a delivery. The chain is
 * {@code [interceptors in registration order] -> handler}; the reliability layer's links
 * (idempotency, circuit breaker, retry, dead-letter) are ordinary interceptors installed in one
 * documented order.
 *
 * <p>An interceptor calls {@link Chain#proceed(Delivery)} to run the rest of the chain (several
 * times to retry, never concurrently with itself), or returns an {@link Outcome} of its own. It must
 * never return {@code null}; the chain reports a violation with the interceptor's class name.
 * Implementations must be thread-safe: one instance serves all deliveries.
 */
@FunctionalInterface
public interface Interceptor {

    CompletionStage<Outcome> intercept(Chain chain);

    /** The rest of the chain, as seen by one interceptor for one delivery. */
    interface Chain {

        Delivery delivery();

        /** The subscription this delivery belongs to. */
        Subscribe subscription();

        /** Runs the remaining links and the handler; handler exceptions arrive as {@link Outcome.Kind#FAILED}. */
        CompletionStage<Outcome> proceed(Delivery delivery);
    }
}
