package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Worker loops")
class WorkerLoopTest {

    private static final PartitionId P0 = PartitionId.of("loops", 0);
    private static final RecordingFailures NO_FAILURES = new RecordingFailures();

    /** Counts the tasks it passes on. */
    private static final class CountingExecutor implements Executor {
        final AtomicInteger executes = new AtomicInteger();
        private final Executor delegate;

        CountingExecutor(Executor delegate) {
            this.delegate = delegate;
        }

        @Override
        public void execute(Runnable task) {
            executes.incrementAndGet();
            delegate.execute(task);
        }
    }

    @Test
    @DisplayName("a chain of synchronous records of one key runs in a few loops, not one task per record")
    void synchronousChainNeedsNoHandOffPerRecord() throws Exception {
        ExecutorService pool = HandlerExecutors.platformThreads(4, "chain-test-");
        try {
            int records = 10_000;
            var executor = new CountingExecutor(pool);
            var gate = new CountDownLatch(1);
            var finished = new CountDownLatch(records);
            Set<String> threads = ConcurrentHashMap.newKeySet();
            var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                if (r.offset() == 0) {
                    gate.await();
                }
                threads.add(Thread.currentThread().getName());
                finished.countDown();
                return CompletableFuture.completedFuture(null);
            }, NO_FAILURES).ordering(OrderingMode.KEY).maxConcurrency(4).maxInFlight(records).executor(executor).build();
            for (long offset = 0; offset < records; offset++) {
                c.submit(P0, offset, "only-key", new TestRecord(P0, offset, "only-key"));
            }
            gate.countDown();
            assertThat(finished.await(30, TimeUnit.SECONDS)).isTrue();
            // One loop for the first record, then one resubmission per batch of records.
            assertThat(executor.executes.get()).as("executor tasks for %d records", records)
                    .isLessThan(records / 10)
                    .isGreaterThanOrEqualTo(records / Dispatcher.BATCH);
            assertThat(threads).hasSizeLessThanOrEqualTo(4);
            assertThat(c.close(Duration.ofSeconds(30))).isEqualTo(Map.of(P0, (long) records));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @DisplayName("platformThreads(): the coordinator's own platform pool, whose loops keep their thread; the same pool handed in makes them yield")
    void ownPlatformPoolLoopsKeepTheirThread() throws Exception {
        int records = 20 * Dispatcher.BATCH;
        for (boolean own : new boolean[] {true, false}) {
            ExecutorService handedIn = own ? null : HandlerExecutors.platformThreads(4, "handed-in-");
            try {
                if (handedIn != null) {
                    // prestarted threads may still be starting on a busy machine: with none idle, a
                    // yielding loop's next task would wait in the queue for the same thread
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (((PlatformThreadPool) handedIn).idleCount() < 4 && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                }
                Set<String> threads = ConcurrentHashMap.newKeySet();
                var finished = new CountDownLatch(records);
                var builder = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                    threads.add(Thread.currentThread().getName());
                    finished.countDown();
                    return CompletableFuture.completedFuture(null);
                }, NO_FAILURES).ordering(OrderingMode.UNORDERED).maxConcurrency(4).maxInFlight(records)
                        .threadNamePrefix("own-platform-");
                var c = (own ? builder.platformThreads() : builder.executor(handedIn)).build();
                List<TestRecord> batch = new ArrayList<>();
                for (long offset = 0; offset < records; offset++) {
                    batch.add(new TestRecord(P0, offset, null));
                }
                c.submitAll(P0, batch, TestRecord::offset, TestRecord::key, r -> r);
                assertThat(finished.await(30, TimeUnit.SECONDS)).isTrue();
                if (own) {
                    // its own pool: loops keep their thread (one loop usually runs them all, but a busy
                    // machine can make the dispatcher start more, so the thread count is not checked)
                    assertThat(c.loopsYield()).isFalse();
                    assertThat(threads).isNotEmpty().allSatisfy(name -> assertThat(name).startsWith("own-platform-"));
                } else {
                    assertThat(c.loopsYield()).isTrue();
                    // every 64 records the loop handed its next record to a new task, which another thread took
                    assertThat(threads).hasSizeGreaterThan(1).allSatisfy(name -> assertThat(name).startsWith("handed-in-"));
                }
                assertThat(c.close(Duration.ofSeconds(30))).isEqualTo(Map.of(P0, (long) records));
            } finally {
                if (handedIn != null) {
                    handedIn.shutdownNow();
                }
            }
        }
    }

    @Test
    @DisplayName("a loop yields its thread after a batch by resubmitting itself")
    void loopYieldsAfterBatch() {
        var executor = new ManualExecutor();
        var processed = new AtomicInteger();
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            processed.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.PARTITION).executor(executor).build();
        int records = 3 * Dispatcher.BATCH + 10;
        for (long offset = 0; offset < records; offset++) {
            c.submit(P0, offset, null, new TestRecord(P0, offset, null));
        }
        assertThat(executor.pending()).as("one loop for the whole partition").isEqualTo(1);
        assertThat(processed).hasValue(0);

        for (int batch = 1; batch <= 3; batch++) {
            runOne(executor);
            assertThat(processed).hasValue(batch * Dispatcher.BATCH);
            assertThat(executor.pending()).as("the loop resubmitted itself").isEqualTo(1);
            assertThat(c.runningHandlers()).as("the resubmitted loop holds its next record's permit").isEqualTo(1);
        }
        runOne(executor);
        assertThat(processed).hasValue(records);
        assertThat(executor.pending()).isZero();
        assertThat(c.runningHandlers()).isZero();
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, (long) records));
    }

    @Test
    @DisplayName("a loop takes a partition's next records as each finishes, in turns of at most STREAK + 1 records")
    void partitionsTakeTurnsInStreaks() {
        var executor = new ManualExecutor();
        PartitionId p1 = PartitionId.of("loops", 1);
        List<PartitionId> order = new ArrayList<>();
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            order.add(r.partition());
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.UNORDERED).maxConcurrency(1).executor(executor).build();
        // within one batch of the loop (a loop that yields starts its next turn afresh)
        int perPartition = Dispatcher.BATCH / 2;
        for (long offset = 0; offset < perPartition; offset++) {
            c.submit(P0, offset, null, new TestRecord(P0, offset, null));
            c.submit(p1, offset, null, new TestRecord(p1, offset, null));
        }
        executor.runAll();
        assertThat(order).hasSize(2 * perPartition);
        // One record from the ready queue, then STREAK more taken as each one finished; then the other partition's turn.
        List<Integer> turns = new ArrayList<>();
        int run = 1;
        for (int i = 1; i < order.size(); i++) {
            if (order.get(i).equals(order.get(i - 1))) {
                run++;
            } else {
                turns.add(run);
                run = 1;
            }
        }
        turns.add(run);
        assertThat(turns).as("records of one partition in a row")
                .startsWith(Dispatcher.STREAK + 1, Dispatcher.STREAK + 1)
                .allMatch(n -> n <= Dispatcher.STREAK + 1)
                .hasSizeGreaterThanOrEqualTo(2 * perPartition / (Dispatcher.STREAK + 1));
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, (long) perPartition, p1, (long) perPartition));
        assertThat(c.runningHandlers()).isZero();
    }

    @Test
    @DisplayName("a partition revoked while a loop works through it runs none of its records after the revocation")
    void revocationEndsAStreak() {
        var executor = new ManualExecutor();
        PartitionId p1 = PartitionId.of("loops", 1);
        List<TestRecord> ran = new ArrayList<>();
        var revoked = new AtomicInteger();
        var holder = new Object() {
            OffsetCommitCoordinator<TestRecord> coordinator;
        };
        holder.coordinator = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            ran.add(r);
            if (r.partition().equals(P0) && r.offset() == 5) {
                // the poll thread revokes P0 while this record runs (a manual executor runs loops on the test's thread)
                revoked.set(holder.coordinator.onPartitionsRevoked(Set.of(P0), Duration.ZERO).size());
            }
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.PARTITION).maxConcurrency(1).executor(executor).build();
        var c = holder.coordinator;
        for (long offset = 0; offset < 40; offset++) {
            c.submit(P0, offset, null, new TestRecord(P0, offset, null));
        }
        for (long offset = 0; offset < 10; offset++) {
            c.submit(p1, offset, null, new TestRecord(p1, offset, null));
        }
        executor.runAll();
        assertThat(revoked).as("P0 had finished records to commit").hasValue(1);
        assertThat(ran).filteredOn(r -> r.partition().equals(P0)).extracting(TestRecord::offset)
                .containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
        assertThat(ran).filteredOn(r -> r.partition().equals(p1)).hasSize(10);
        assertThat(c.runningHandlers()).as("every permit came back").isZero();
        assertThat(c.committableOffsets()).isEqualTo(Map.of(p1, 10L));
    }

    @Test
    @DisplayName("a record that finishes while its partition is being revoked does not start the next one")
    void revocationWaitingForARunningRecord() throws Exception {
        ExecutorService pool = HandlerExecutors.platformThreads(2, "drain-test-");
        Thread[] revokerThread = new Thread[1];
        ExecutorService revoker = java.util.concurrent.Executors.newSingleThreadExecutor(task -> {
            revokerThread[0] = new Thread(task, "revoker");
            return revokerThread[0];
        });
        try {
            var release = new CountDownLatch(1);
            var started = new CountDownLatch(1);
            List<Long> ran = java.util.Collections.synchronizedList(new ArrayList<>());
            var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                ran.add(r.offset());
                if (r.offset() == 0) {
                    started.countDown();
                    release.await();
                }
                return CompletableFuture.completedFuture(null); // synchronous: the loop would take offset 1 next
            }, NO_FAILURES).ordering(OrderingMode.PARTITION).maxConcurrency(1).executor(pool).build();
            c.submit(P0, 0, null, new TestRecord(P0, 0, null));
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            // the next poll's records wait in the partition's inbox: the only permit is taken
            List<TestRecord> next = new ArrayList<>();
            for (long offset = 1; offset < 5; offset++) {
                next.add(new TestRecord(P0, offset, null));
            }
            c.submitAll(P0, next, TestRecord::offset, TestRecord::key, r -> r);
            var revoked = revoker.submit(() -> c.onPartitionsRevoked(Set.of(P0), Duration.ofSeconds(30)));
            // the revocation drains the partition, then waits (timed) for offset 0 to end
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (revokerThread[0] == null || revokerThread[0].getState() != Thread.State.TIMED_WAITING) {
                assertThat(System.nanoTime()).as("the revocation waits for the running record").isLessThan(deadline);
                Thread.sleep(1);
            }
            assertThat(revoked.isDone()).isFalse();
            release.countDown();
            assertThat(revoked.get(10, TimeUnit.SECONDS)).isEqualTo(Map.of(P0, 1L));
            assertThat(ran).as("nothing after the running record").containsExactly(0L);
            awaitPermitsBack(c);
        } finally {
            revoker.shutdownNow();
            pool.shutdownNow();
        }
    }

    @Test
    @DisplayName("an asynchronous stage completed on a foreign thread starts a loop for the waiting work")
    void foreignCompletionRestartsWork() throws Exception {
        var executor = new ManualExecutor();
        var processor = new ScriptedProcessor();
        var c = OffsetCommitCoordinator.builder(processor, NO_FAILURES)
                .ordering(OrderingMode.UNORDERED).maxConcurrency(2).executor(executor).build();
        for (long offset = 0; offset < 5; offset++) {
            c.submit(P0, offset, null, new TestRecord(P0, offset, null));
        }
        executor.runAll();
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L);
        assertThat(c.runningHandlers()).isEqualTo(2);
        assertThat(executor.pending()).as("asynchronous handlers freed their loops").isZero();

        Thread foreign = new Thread(() -> processor.succeed(P0, 0), "foreign-completer");
        foreign.start();
        foreign.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(executor.pending()).as("the completion started a loop for the next record").isEqualTo(1);
        executor.runAll();
        assertThat(processor.runningOffsets(P0)).containsExactly(1L, 2L);

        for (long offset = 1; offset < 5; offset++) {
            long done = offset;
            Thread t = new Thread(() -> processor.succeed(P0, done));
            t.start();
            t.join(TimeUnit.SECONDS.toMillis(30));
            executor.runAll();
        }
        assertThat(processor.runningCount()).isZero();
        assertThat(c.runningHandlers()).isZero();
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 5L));
    }

    @Test
    @DisplayName("mixed synchronous and asynchronous handlers never exceed maxConcurrency")
    void concurrencyStaysBounded() throws Exception {
        ExecutorService pool = HandlerExecutors.platformThreads(8, "bound-test-");
        ExecutorService completer = HandlerExecutors.platformThreads(2, "completer-");
        try {
            int limit = 3;
            int records = 5_000;
            var active = new AtomicInteger();
            var maxActive = new AtomicInteger();
            var finished = new CountDownLatch(records);
            var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                int now = active.incrementAndGet();
                maxActive.accumulateAndGet(now, Math::max);
                if (r.offset() % 3 == 0) {
                    // Asynchronous: the permit stays taken until another thread completes the stage.
                    var stage = new CompletableFuture<Void>();
                    completer.execute(() -> {
                        active.decrementAndGet();
                        finished.countDown();
                        stage.complete(null);
                    });
                    return stage;
                }
                Thread.onSpinWait();
                active.decrementAndGet();
                finished.countDown();
                return CompletableFuture.completedFuture(null);
            }, NO_FAILURES).ordering(OrderingMode.KEY).maxConcurrency(limit).maxInFlight(records).executor(pool).build();
            List<Integer> observed = new ArrayList<>();
            for (long offset = 0; offset < records; offset++) {
                String key = Long.toString(offset % 16);
                c.submit(PartitionId.of("loops", (int) (offset % 4)), offset / 4, key,
                        new TestRecord(P0, offset, key));
                if (offset % 100 == 0) {
                    observed.add(c.runningHandlers());
                }
            }
            assertThat(finished.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(maxActive.get()).isBetween(1, limit);
            assertThat(observed).allSatisfy(running -> assertThat(running).isBetween(0, limit));
            c.close(Duration.ofSeconds(30));
            awaitPermitsBack(c);
            assertThat(pool).isInstanceOfSatisfying(PlatformThreadPool.class,
                    p -> assertThat(p.largestPoolSize()).isLessThanOrEqualTo(8));
        } finally {
            pool.shutdownNow();
            completer.shutdownNow();
        }
    }

    @Test
    @DisplayName("records becoming runnable while no loop runs start one loop, not one per record")
    void oneLoopForNewWork() {
        var executor = new ManualExecutor();
        var processed = new AtomicInteger();
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            processed.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.KEY).maxConcurrency(8).maxInFlight(10_000).executor(executor).build();
        List<TestRecord> polled = new ArrayList<>();
        for (long offset = 0; offset < 500; offset++) {
            polled.add(new TestRecord(P0, offset, "key-" + offset));
        }
        c.submitAll(P0, polled, TestRecord::offset, TestRecord::key, r -> r);
        assertThat(c.trackOf(P0).stats().queued()).as("the batch waits for a loop to admit it").isEqualTo(500);
        assertThat(executor.pending()).as("one loop for 500 runnable records").isEqualTo(1);
        assertThat(c.runningHandlers()).as("the loop holds its permit").isEqualTo(1);
        c.pollCommits(System.nanoTime());
        assertThat(executor.pending()).as("no more loops while the first has not begun").isEqualTo(1);
        executor.runAll();
        assertThat(processed).hasValue(500);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 500L));
    }

    @Test
    @DisplayName("handlers that block get more loops until every permit is used")
    void blockingHandlersReachFullConcurrency() throws Exception {
        int limit = 8;
        var allRunning = new CountDownLatch(limit);
        var release = new CountDownLatch(1);
        var active = new AtomicInteger();
        var maxActive = new AtomicInteger();
        var finished = new CountDownLatch(100);
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            maxActive.accumulateAndGet(active.incrementAndGet(), Math::max);
            allRunning.countDown();
            release.await();
            active.decrementAndGet();
            finished.countDown();
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.KEY).maxConcurrency(limit).maxInFlight(1_000).build();
        try {
            List<TestRecord> polled = new ArrayList<>();
            for (long offset = 0; offset < 100; offset++) {
                polled.add(new TestRecord(P0, offset, "key-" + offset));
            }
            c.submitAll(P0, polled, TestRecord::offset, TestRecord::key, r -> r);
            // Nothing else happens: no submit, no poll loop. Loops blocked in handlers still get company.
            assertThat(allRunning.await(30, TimeUnit.SECONDS)).as("all %d permits in use", limit).isTrue();
            assertThat(maxActive.get()).isEqualTo(limit);
            release.countDown();
            assertThat(finished.await(30, TimeUnit.SECONDS)).as("the rest ran once the handlers returned").isTrue();
            assertThat(c.close(Duration.ofSeconds(30))).isEqualTo(Map.of(P0, 100L));
        } finally {
            release.countDown();
        }
    }

    @Test
    @DisplayName("a loop stuck in a handler holds only its key, even when nothing else happens")
    void stuckLoopHoldsOnlyItsKey() throws Exception {
        var stuck = new CountDownLatch(1);
        var othersDone = new CountDownLatch(20);
        var stuckKeyDone = new CountDownLatch(2);
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            if (r.key().equals("stuck")) {
                stuck.await();
                stuckKeyDone.countDown();
            } else {
                othersDone.countDown();
            }
            return CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.KEY).maxConcurrency(4).maxInFlight(1_000).build();
        try {
            c.submit(P0, 0, "stuck", new TestRecord(P0, 0, "stuck"));
            c.submit(P0, 1, "stuck", new TestRecord(P0, 1, "stuck"));
            for (long offset = 2; offset < 22; offset++) {
                c.submit(P0, offset, "k" + offset % 5, new TestRecord(P0, offset, "k" + offset % 5));
            }
            assertThat(othersDone.await(30, TimeUnit.SECONDS)).as("the other keys ran").isTrue();
            assertThat(c.stats(P0).committableOffset()).as("offset 0 still pins the watermark").isZero();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (c.stats(P0).running() > 1 && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // the last of the others is being marked finished
            }
            assertThat(c.stats(P0).running()).as("only the stuck record runs").isEqualTo(1);
            stuck.countDown();
            assertThat(stuckKeyDone.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(c.close(Duration.ofSeconds(30))).isEqualTo(Map.of(P0, 22L));
        } finally {
            stuck.countDown();
        }
    }

    @Test
    @DisplayName("an inline executor runs a long synchronous chain without growing the stack")
    void inlineExecutorChain() {
        var processed = new AtomicInteger();
        var gate = new CompletableFuture<Void>();
        var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
            processed.incrementAndGet();
            return r.offset() == 0 ? gate : CompletableFuture.completedFuture(null);
        }, NO_FAILURES).ordering(OrderingMode.PARTITION).maxInFlight(200_000).executor(Runnable::run).build();
        int records = 100_000;
        for (long offset = 0; offset < records; offset++) {
            c.submit(P0, offset, null, new TestRecord(P0, offset, null));
        }
        assertThat(processed).hasValue(1);
        gate.complete(null);
        assertThat(processed).hasValue(records);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, (long) records));
    }

    @Test
    @DisplayName("a small platform pool starts its threads when created")
    void platformPoolPrestarts() {
        var pool = (PlatformThreadPool) HandlerExecutors.platformThreads(3, "prestart-test-");
        try {
            assertThat(pool.poolSize()).isEqualTo(3);
            assertThat(pool.maximumPoolSize()).isEqualTo(3);
            assertThat(pool.keepAliveNanos()).isEqualTo(TimeUnit.SECONDS.toNanos(30));
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Every permit comes back: a loop gives its permit back a moment after its last record
     * finished, and an asynchronous completion right after the partition recorded it, so a
     * revocation or close can return just before.
     */
    private static void awaitPermitsBack(OffsetCommitCoordinator<?> c) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (c.runningHandlers() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(c.runningHandlers()).isZero();
    }

    private static void runOne(ManualExecutor executor) {
        assertThat(executor.pending()).isEqualTo(1);
        executor.runQueued();
    }
}
