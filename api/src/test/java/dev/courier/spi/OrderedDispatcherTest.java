package dev.courier.spi;

import dev.courier.Ordering;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("OrderedDispatcher")
class OrderedDispatcherTest {

    /** Upper bound for waiting on something that should happen promptly; only a guard against hangs. */
    private static final long WAIT_SECONDS = 10;

    /** A test item: a name for assertions and what running it does (null result: finished synchronously). */
    record Item(String name, Supplier<CompletionStage<?>> body) {
        @Override
        public String toString() {
            return name;
        }
    }

    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final List<String> ran = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void shutdown() throws InterruptedException {
        executor.shutdownNow();
        assertThat(executor.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    }

    private OrderedDispatcher<Item> dispatcher(ExecutorService on, int concurrency, Ordering ordering) {
        return new OrderedDispatcher<>(on, concurrency, ordering, item -> item.body().get());
    }

    /** An item that records its name and finishes synchronously. */
    private Item recording(String name) {
        return new Item(name, () -> {
            ran.add(name);
            return null;
        });
    }

    /** An item that records its name, counts down {@code started} and blocks until {@code gate} opens. */
    private Item blocking(String name, CountDownLatch started, CountDownLatch gate) {
        return new Item(name, () -> {
            ran.add(name);
            started.countDown();
            await(gate);
            return null;
        });
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released within " + WAIT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static void awaitIdle(OrderedDispatcher<?> d) throws Exception {
        d.whenIdle().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("never runs more items at once than its concurrency")
    void concurrencyLimit() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 3, Ordering.NONE);
        AtomicInteger active = new AtomicInteger();
        AtomicInteger maxActive = new AtomicInteger();
        CountDownLatch threeRunning = new CountDownLatch(3);
        CountDownLatch gate = new CountDownLatch(1);

        for (int i = 0; i < 50; i++) {
            String name = "i" + i;
            d.dispatch(null, new Item(name, () -> {
                maxActive.accumulateAndGet(active.incrementAndGet(), Math::max);
                threeRunning.countDown();
                await(gate);
                ran.add(name);
                active.decrementAndGet();
                return null;
            }));
        }
        await(threeRunning);

        assertThat(d.running()).isEqualTo(3);
        assertThat(d.pending()).isEqualTo(50);

        gate.countDown();
        awaitIdle(d);

        assertThat(maxActive).hasValue(3);
        assertThat(ran).hasSize(50);
        assertThat(d.pending()).isZero();
        assertThat(d.running()).isZero();
    }

    @Test
    @DisplayName("BY_KEY: items of one key never overlap and run in submission order")
    void sameKeySerialised() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 4, Ordering.BY_KEY);
        Map<String, AtomicInteger> activePerKey = new ConcurrentHashMap<>();
        Map<String, List<Integer>> orderPerKey = new ConcurrentHashMap<>();
        AtomicInteger overlaps = new AtomicInteger();
        List<String> keys = List.of("k0", "k1", "k2", "k3", "k4", "k5");

        for (int i = 0; i < 60; i++) {
            for (String key : keys) {
                int seq = i;
                d.dispatch(key, new Item(key + "-" + seq, () -> {
                    AtomicInteger active = activePerKey.computeIfAbsent(key, k -> new AtomicInteger());
                    if (active.incrementAndGet() > 1) {
                        overlaps.incrementAndGet();
                    }
                    orderPerKey.computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>())).add(seq);
                    Thread.yield();
                    active.decrementAndGet();
                    return null;
                }));
            }
        }
        awaitIdle(d);

        assertThat(overlaps).hasValue(0);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            expected.add(i);
        }
        for (String key : keys) {
            assertThat(orderPerKey.get(key)).as("order of %s", key).containsExactlyElementsOf(expected);
        }
    }

    @Test
    @DisplayName("BY_KEY: items of different keys run in parallel")
    void differentKeysParallel() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.BY_KEY);
        CountDownLatch bothRunning = new CountDownLatch(2);
        Map<String, Boolean> sawOther = new ConcurrentHashMap<>();

        for (String key : List.of("A", "B")) {
            d.dispatch(key, new Item(key, () -> {
                bothRunning.countDown();
                try {
                    sawOther.put(key, bothRunning.await(WAIT_SECONDS, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }));
        }
        awaitIdle(d);

        assertThat(sawOther).containsEntry("A", true).containsEntry("B", true);
    }

    @Test
    @DisplayName("BY_KEY: items waiting behind a busy key take no permit, so other keys keep running")
    void busyKeyDoesNotStarveOthers() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.BY_KEY);
        CountDownLatch aStarted = new CountDownLatch(1);
        CountDownLatch aGate = new CountDownLatch(1);
        CountDownLatch othersDone = new CountDownLatch(20);

        d.dispatch("A", blocking("A-0", aStarted, aGate));
        await(aStarted);
        for (int i = 1; i <= 100; i++) {
            d.dispatch("A", recording("A-" + i));
        }
        for (int i = 0; i < 20; i++) {
            String name = "K" + i;
            d.dispatch(name, new Item(name, () -> {
                othersDone.countDown();
                return null;
            }));
        }
        await(othersDone);

        // all 20 other keys ran on the one free permit while A-0 blocked and A-1..A-100 waited
        assertThat(ran).containsExactly("A-0");
        assertThat(d.pending()).isGreaterThanOrEqualTo(101);

        aGate.countDown();
        awaitIdle(d);

        List<String> expected = new ArrayList<>();
        for (int i = 0; i <= 100; i++) {
            expected.add("A-" + i);
        }
        assertThat(ran).containsExactlyElementsOf(expected);
        assertThat(d.pending()).isZero();
    }

    @Test
    @DisplayName("BY_KEY: items without a key are not ordered among themselves")
    void nullKeyUnordered() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.BY_KEY);
        CountDownLatch bothRunning = new CountDownLatch(2);
        AtomicInteger parallel = new AtomicInteger();

        for (int i = 0; i < 2; i++) {
            d.dispatch(null, new Item("n" + i, () -> {
                bothRunning.countDown();
                try {
                    if (bothRunning.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                        parallel.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }));
        }
        awaitIdle(d);

        assertThat(parallel).hasValue(2);
    }

    @Test
    @DisplayName("NONE: keys are ignored, so items of one key run in parallel")
    void noneIgnoresKeys() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.NONE);
        CountDownLatch bothRunning = new CountDownLatch(2);
        AtomicInteger parallel = new AtomicInteger();

        for (int i = 0; i < 2; i++) {
            d.dispatch("same-key", new Item("s" + i, () -> {
                bothRunning.countDown();
                try {
                    if (bothRunning.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                        parallel.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }));
        }
        awaitIdle(d);

        assertThat(parallel).hasValue(2);
    }

    @Test
    @DisplayName("an async item holds its permit and its key until its stage completes")
    void asyncHoldsPermit() throws Exception {
        // one thread: once a marker task has run, the dispatcher's own work before it is done too
        ExecutorService single = Executors.newSingleThreadExecutor();
        try {
            OrderedDispatcher<Item> d = dispatcher(single, 1, Ordering.BY_KEY);
            CompletableFuture<Void> first = new CompletableFuture<>();
            d.dispatch("A", new Item("async", () -> {
                ran.add("async");
                return first;
            }));
            d.dispatch("B", recording("B-after"));
            d.dispatch("A", recording("A-after"));
            single.submit(() -> { }).get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(ran).containsExactly("async");
            assertThat(d.running()).isEqualTo(1);
            assertThat(d.pending()).isEqualTo(3);
            assertThat(d.whenIdle().toCompletableFuture()).isNotDone();

            first.complete(null);
            awaitIdle(d);

            assertThat(ran).containsExactly("async", "B-after", "A-after");
            assertThat(d.running()).isZero();
        } finally {
            single.shutdownNow();
        }
    }

    @Test
    @DisplayName("close() returns the items that never started, per key in submission order, and refuses new ones")
    void closeReturnsNotStarted() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 1, Ordering.BY_KEY);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);

        d.dispatch("A", blocking("A-1", started, gate));
        await(started);
        d.dispatch("A", recording("A-2"));
        d.dispatch("B", recording("B-1"));
        d.dispatch("A", recording("A-3"));
        d.dispatch("C", recording("C-1"));
        d.dispatch("B", recording("B-2"));

        List<Item> notStarted = d.close();

        assertThat(notStarted).extracting(Item::name)
                .containsExactlyInAnyOrder("A-2", "A-3", "B-1", "B-2", "C-1");
        Map<Character, List<String>> perKey = new LinkedHashMap<>();
        for (Item item : notStarted) {
            perKey.computeIfAbsent(item.name().charAt(0), k -> new ArrayList<>()).add(item.name());
        }
        assertThat(perKey.get('A')).containsExactly("A-2", "A-3");
        assertThat(perKey.get('B')).containsExactly("B-1", "B-2");
        assertThat(d.isClosed()).isTrue();
        assertThat(d.dispatch("D", recording("D-1"))).isFalse();
        assertThat(d.pending()).isEqualTo(1);

        CompletableFuture<Void> idle = d.whenIdle().toCompletableFuture();
        assertThat(idle).isNotDone();

        gate.countDown();
        idle.get(WAIT_SECONDS, TimeUnit.SECONDS);

        assertThat(ran).containsExactly("A-1");
        assertThat(d.running()).isZero();
        assertThat(d.pending()).isZero();
    }

    @Test
    @DisplayName("close() of an idle dispatcher returns nothing and whenIdle() is complete at once")
    void closeIdle() {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.BY_KEY);

        assertThat(d.whenIdle().toCompletableFuture()).isCompleted();
        assertThat(d.close()).isEmpty();
        assertThat(d.whenIdle().toCompletableFuture()).isCompleted();
    }

    @Test
    @DisplayName("an item whose runner throws frees its permit and its key")
    void throwingRunnerFreesPermit() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 1, Ordering.BY_KEY);

        d.dispatch("A", new Item("boom", () -> {
            ran.add("boom");
            throw new IllegalStateException("handler bug");
        }));
        d.dispatch("A", recording("A-after"));
        d.dispatch("B", recording("B-after"));
        awaitIdle(d);

        assertThat(ran).containsExactlyInAnyOrder("boom", "A-after", "B-after");
        assertThat(ran.indexOf("boom")).isLessThan(ran.indexOf("A-after"));
        assertThat(d.running()).isZero();
        assertThat(d.pending()).isZero();
    }

    @Test
    @DisplayName("an async item that completes exceptionally frees its permit and its key")
    void failedStageFreesPermit() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 1, Ordering.BY_KEY);
        CompletableFuture<Void> failing = new CompletableFuture<>();

        d.dispatch("A", new Item("async", () -> {
            ran.add("async");
            return failing;
        }));
        d.dispatch("A", recording("A-after"));
        failing.completeExceptionally(new IllegalStateException("async failure"));
        awaitIdle(d);

        assertThat(ran).containsExactly("async", "A-after");
        assertThat(d.running()).isZero();
    }

    @Test
    @DisplayName("whenIdle() completes once everything dispatched has finished")
    void whenIdleAfterWork() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 2, Ordering.BY_KEY);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);

        d.dispatch("A", blocking("A-1", started, gate));
        d.dispatch("A", recording("A-2"));
        await(started);
        CompletableFuture<Void> idle = d.whenIdle().toCompletableFuture();

        assertThat(idle).isNotDone();
        gate.countDown();
        idle.get(WAIT_SECONDS, TimeUnit.SECONDS);

        assertThat(ran).containsExactly("A-1", "A-2");
    }

    @Test
    @DisplayName("runs a long run of one key in order without losing items, also past one thread's batch of 64")
    void longRunOfOneKey() throws Exception {
        OrderedDispatcher<Item> d = dispatcher(executor, 3, Ordering.BY_KEY);
        List<String> expected = new ArrayList<>();

        for (int i = 0; i < 500; i++) {
            expected.add("A-" + i);
            d.dispatch("A", recording("A-" + i));
        }
        awaitIdle(d);

        assertThat(ran).containsExactlyElementsOf(expected);
    }

    @Test
    @DisplayName("refuses a concurrency below 1")
    void concurrencyAtLeastOne() {
        assertThatThrownBy(() -> dispatcher(executor, 0, Ordering.NONE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("concurrency must be >= 1, was 0");
    }
}
