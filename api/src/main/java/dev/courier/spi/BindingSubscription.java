package dev.courier.spi;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * A binding's side of a subscription. Thread-safe.
 */
public interface BindingSubscription {

    /** Stops handing new deliveries to the processor (running ones finish). */
    void pause();

    void resume();

    /**
     * Stops consuming, waits up to {@code drainTimeout} for deliveries already handed to the
     * processor to settle, and returns every delivery received but not started to the broker
     * unacknowledged. Completes when done; never completes exceptionally.
     */
    CompletionStage<Void> close(Duration drainTimeout);
}
