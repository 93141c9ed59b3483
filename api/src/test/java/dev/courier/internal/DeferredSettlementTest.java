package dev.courier.internal;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Delivery;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import org.junit.jupiter.api.Test;

import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Settlements made while the handler runs, racing its return. */
class DeferredSettlementTest {

    /**
     * A settlement from another thread that races with the handler's return: the returning handler
     * takes and applies the deferred settlement before the settler registered it with the pipeline,
     * and the settler then registers it anyway. The delivery stays in the pipeline's deferred set
     * for the life of the subscription (it and its message are never freed).
     */
    @Test
    void settlementRacingTheHandlersReturnIsNotKeptForever() throws Exception {
        int n = 50_000;
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url("mem://deferred-" + UUID.randomUUID())
                .build()).connect();
        ExecutorService ackers = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch all = new CountDownLatch(n);
            Subscription s = c.subscribe(Subscribe.to("race").group("g").ordering(Ordering.NONE).concurrency(4), d -> {
                Go go = new Go();
                ackers.execute(() -> {
                    while (!go.go) {
                        Thread.onSpinWait();
                    }
                    d.ack();
                    all.countDown();
                });
                go.go = true;
                // return at a varying moment relative to the other thread's ack
                for (int spin = java.util.concurrent.ThreadLocalRandom.current().nextInt(64); spin > 0; spin--) {
                    Thread.onSpinWait();
                }
            });
            for (int i = 0; i < n; i++) {
                c.publisher().publish("race", null, "m" + i);
            }
            assertThat(all.await(2, TimeUnit.MINUTES)).isTrue();
            Thread.sleep(500);
            assertThat(((DefaultSubscription) s).pipeline().deferredCount())
                    .as("deliveries still held as deferred after every one was settled and applied").isZero();
        } finally {
            ackers.shutdownNow();
            c.close();
        }
    }

    static final class Go {
        volatile boolean go;
    }
}
