package dev.courier;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

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

        /**
         * The executor handlers run on (virtual threads on 21+, a bounded pool otherwise). An
         * interceptor that calls {@link #proceed(Delivery)} again later, after a backoff, does it
         * on this executor, never on a timer or broker thread.
         */
        Executor executor();

        /** Pauses and resumes the subscription this delivery belongs to (e.g. while a circuit breaker is open). */
        Flow flow();

        /** The Courier's listener, for interceptors that report events of their own (retries, duplicates, breaker states). */
        CourierListener listener();

        /**
         * How the delivery was settled, if it already was; {@code null} while it is unsettled. A
         * handler (or an inner link) that calls {@link Delivery#ack()}, {@link Delivery#nack(java.time.Duration)}
         * or {@link Delivery#deadLetter(String)} settles it there and then, and the first settlement
         * wins: whatever the rest of the chain returns afterwards no longer changes what happens to
         * the message. A link that retries or keeps state per message (idempotency) looks here after
         * {@link #proceed(Delivery)} completed, so it neither runs the handler again nor records an
         * outcome the broker never saw. The default (a chain made outside the Courier) knows nothing.
         */
        default Outcome settlement() {
            return null;
        }
    }

    /**
     * Flow control of one running subscription, as seen from the chain. Thread-safe and idempotent.
     *
     * <p>The chain's pause is its own: it does not undo the application's
     * {@link Subscription#pause()}, nor does the application's {@link Subscription#resume()} undo
     * it. New deliveries are handed to the handler only while neither holds the subscription.
     */
    interface Flow {

        /** Stops fetching new deliveries; those already in flight continue. */
        void pause();

        /** Fetches again after {@link #pause()}, unless the application paused the subscription itself. */
        void resume();

        /** Whether the subscription fetches nothing new, because of this flow's pause or the application's. */
        boolean isPaused();

        /**
         * Whether the subscription is closing or closed. Its deliveries that have not reached the
         * handler are given back to the broker, so work a link deferred (an attempt after a backoff, a
         * delivery held by a breaker) must not run the handler any more once this is true: the
         * message may already be with another consumer, and the handler's resources torn down. The
         * link completes such a delivery with {@link Outcome#nack} instead, as soon as the close
         * starts if it registered with {@link #onClose(Runnable)}.
         */
        default boolean isClosed() {
            return false;
        }

        /**
         * Runs {@code giveBack} once, as soon as the subscription starts closing (at once, on the
         * calling thread, if it already has), unless cancelled first. A close waits for every
         * delivery the chain has not completed yet, so a link that holds one for a while (a backoff,
         * a breaker's hold) registers here what gives it back: the close then need not wait for
         * the end of a wait after which the delivery would only be given back anyway. The action
         * runs on the closing thread, after the binding stopped taking messages; it must be quick,
         * must not throw, and must not run the handler: it completes the delivery with
         * {@link Outcome#nack} (and the link must make sure the wait, when it ends, does nothing
         * more). The default, for a flow that never closes, keeps nothing.
         *
         * @return cancels the action; run it when the wait ended by itself. Idempotent.
         */
        default Runnable onClose(Runnable giveBack) {
            return () -> { };
        }
    }
}
