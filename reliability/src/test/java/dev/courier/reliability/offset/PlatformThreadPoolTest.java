package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("PlatformThreadPool")
class PlatformThreadPoolTest {

    private static Thread runOn(PlatformThreadPool pool) throws Exception {
        CompletableFuture<Thread> ran = new CompletableFuture<>();
        pool.execute(() -> ran.complete(Thread.currentThread()));
        return ran.get(10, TimeUnit.SECONDS);
    }

    /** Waits up to 10 s for {@code condition}; the caller asserts what it needs afterwards. */
    private static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }

    /** Waits until the given threads are parked idle (no running task). */
    private static void awaitIdle(Set<Thread> threads) throws InterruptedException {
        waitFor(() -> threads.stream().allMatch(t -> t.getState() == Thread.State.TIMED_WAITING));
        assertThat(threads).as("threads gone idle").allMatch(t -> t.getState() == Thread.State.TIMED_WAITING);
    }

    @Test
    @DisplayName("hands one task after another to the same thread, the one that went idle last, while the others sleep")
    void reusesTheLastIdleThread() throws Exception {
        var pool = new PlatformThreadPool(8, "lifo-test-", 30, TimeUnit.SECONDS);
        try {
            assertThat(pool.prestart(8)).isEqualTo(8);
            waitFor(() -> pool.idleCount() == 8);
            assertThat(pool.idleCount()).isEqualTo(8);
            Thread first = runOn(pool);
            Set<Thread> seen = ConcurrentHashMap.newKeySet();
            for (int i = 0; i < 50; i++) {
                awaitIdle(Set.of(first));
                seen.add(runOn(pool));
            }
            assertThat(seen).containsExactly(first);
            assertThat(pool.poolSize()).isEqualTo(8);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @DisplayName("never runs more tasks at once than its threads; tasks given while all are busy run in order")
    void boundedAndQueued() throws Exception {
        var pool = new PlatformThreadPool(3, "bound-pool-test-", 30, TimeUnit.SECONDS);
        try {
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger running = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(20);
            for (int i = 0; i < 20; i++) {
                int n = i;
                pool.execute(() -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    try {
                        if (n < 3) {
                            release.await(10, TimeUnit.SECONDS);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    order.add(n);
                    running.decrementAndGet();
                    done.countDown();
                });
            }
            assertThat(pool.poolSize()).isEqualTo(3);
            waitFor(() -> running.get() >= 3);
            Thread.sleep(50); // a fourth would have started by now if the bound did not hold
            assertThat(running.get()).isEqualTo(3);
            assertThat(order).isEmpty(); // three block, seventeen wait
            release.countDown();
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(most.get()).isEqualTo(3);
            assertThat(pool.largestPoolSize()).isEqualTo(3);
            assertThat(order).hasSize(20);
        } finally {
            pool.shutdownNow();
        }
        // one thread: what waited runs in the order it was given
        var single = new PlatformThreadPool(1, "order-test-", 30, TimeUnit.SECONDS);
        try {
            CountDownLatch release = new CountDownLatch(1);
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            single.execute(() -> {
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            CountDownLatch done = new CountDownLatch(10);
            for (int i = 0; i < 10; i++) {
                int n = i;
                single.execute(() -> {
                    order.add(n);
                    done.countDown();
                });
            }
            release.countDown();
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(order).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        } finally {
            single.shutdownNow();
        }
    }

    @Test
    @DisplayName("idle threads end after the keep-alive and new ones start for new work; a throwing task does not end its thread")
    void keepAliveAndFailures() throws Exception {
        var pool = new PlatformThreadPool(2, "keepalive-test-", 500, TimeUnit.MILLISECONDS);
        try {
            List<Throwable> reported = Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<Thread> thrower = new CompletableFuture<>();
            pool.execute(() -> {
                Thread.currentThread().setUncaughtExceptionHandler((t, e) -> reported.add(e));
                thrower.complete(Thread.currentThread());
                throw new IllegalStateException("handler bug");
            });
            Thread t = thrower.get(10, TimeUnit.SECONDS);
            waitFor(() -> !reported.isEmpty());
            awaitIdle(Set.of(t));
            assertThat(runOn(pool)).isSameAs(t); // the same thread went on after the failure
            assertThat(reported).singleElement().satisfies(e -> assertThat(e).hasMessage("handler bug"));
            waitFor(() -> pool.poolSize() == 0);
            assertThat(pool.poolSize()).isZero();
            assertThat(t.isAlive()).isFalse();
            Thread fresh = runOn(pool);
            assertThat(fresh).isNotSameAs(t);
            assertThat(fresh.getName()).startsWith("keepalive-test-");
            assertThat(fresh.isDaemon()).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @DisplayName("shutdown runs what was queued and then refuses work; shutdownNow drops the queue and interrupts running tasks")
    void shutdowns() throws Exception {
        var pool = new PlatformThreadPool(1, "shutdown-test-", 30, TimeUnit.SECONDS);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        pool.execute(() -> {
            started.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ran.incrementAndGet();
        });
        pool.execute(ran::incrementAndGet);
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        pool.shutdown();
        assertThatThrownBy(() -> pool.execute(ran::incrementAndGet)).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("shutdown-test-");
        assertThat(pool.isShutdown()).isTrue();
        assertThat(pool.isTerminated()).isFalse();
        release.countDown();
        assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ran.get()).isEqualTo(2);

        var now = new PlatformThreadPool(1, "shutdown-now-test-", 30, TimeUnit.SECONDS);
        CountDownLatch blocking = new CountDownLatch(1);
        CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
        now.execute(() -> {
            blocking.countDown();
            try {
                Thread.sleep(10_000);
                interrupted.complete(false);
            } catch (InterruptedException e) {
                interrupted.complete(true);
            }
        });
        Runnable queued = () -> { };
        now.execute(queued);
        assertThat(blocking.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(now.shutdownNow()).containsExactly(queued);
        assertThat(interrupted.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(now.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
}
