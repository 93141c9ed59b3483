package dev.courier.spi;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SettableStageTest {

    /** What a caller can observe of a stage: its outcome through join() and get(). */
    private static String observe(CompletionStage<?> stage) {
        CompletableFuture<?> f = stage.toCompletableFuture();
        if (!f.isDone()) {
            return "incomplete";
        }
        String joined;
        try {
            joined = "value " + f.join();
        } catch (CompletionException e) {
            joined = "CompletionException(" + describe(e.getCause()) + ")";
        } catch (CancellationException e) {
            joined = "CancellationException";
        }
        String got;
        try {
            got = "value " + f.get();
        } catch (ExecutionException e) {
            got = "ExecutionException(" + describe(e.getCause()) + ")";
        } catch (CancellationException e) {
            got = "CancellationException";
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return joined + " / " + got + (f.isCompletedExceptionally() ? " exceptionally" : "") + (f.isCancelled() ? " cancelled" : "");
    }

    private static String describe(Throwable t) {
        if (t == null) {
            return "null";
        }
        String s = t.getClass().getSimpleName() + ":" + t.getMessage();
        if (t.getCause() != null && t.getCause() != t) {
            s += " caused by " + describe(t.getCause());
        }
        if (t.getSuppressed().length > 0) {
            s += " suppressing " + describe(t.getSuppressed()[0]);
        }
        return s;
    }

    /** A stage under test, made pending, settled by the scenario. */
    private interface Kind {
        CompletionStage<String> make();

        boolean complete(CompletionStage<String> s, String value);

        boolean fail(CompletionStage<String> s, Throwable error);
    }

    private static final Kind JDK = new Kind() {
        public CompletionStage<String> make() {
            return new CompletableFuture<>();
        }

        public boolean complete(CompletionStage<String> s, String value) {
            return ((CompletableFuture<String>) s).complete(value);
        }

        public boolean fail(CompletionStage<String> s, Throwable error) {
            return ((CompletableFuture<String>) s).completeExceptionally(error);
        }
    };

    private static final Kind OURS = new Kind() {
        public CompletionStage<String> make() {
            return new SettableStage<>();
        }

        public boolean complete(CompletionStage<String> s, String value) {
            return ((SettableStage<String>) s).complete(value);
        }

        public boolean fail(CompletionStage<String> s, Throwable error) {
            return ((SettableStage<String>) s).completeExceptionally(error);
        }
    };

    /**
     * Runs {@code scenario} on a CompletableFuture and on a SettableStage, each with fresh
     * exceptions of the same kinds, and returns both transcripts.
     */
    private static List<String> both(Function<Kind, List<String>> scenario) {
        return List.of(String.join("\n", scenario.apply(JDK)), String.join("\n", scenario.apply(OURS)));
    }

    private static void assertSameAsCompletableFuture(Function<Kind, List<String>> scenario) {
        List<String> t = both(scenario);
        assertThat(t.get(1)).as("SettableStage's transcript against CompletableFuture's").isEqualTo(t.get(0));
        assertThat(t.get(0)).isNotBlank();
    }

    private static BiConsumer<String, Throwable> recorder(List<String> log, String name) {
        return (v, e) -> log.add(name + " saw " + v + ", " + describe(e));
    }

    @Nested
    @DisplayName("behaves as CompletableFuture does")
    class Parity {

        @Test
        @DisplayName("whenComplete before the value: the action sees it, the returned stage has it")
        void whenCompleteBeforeValue() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                CompletionStage<String> after = s.whenComplete(recorder(log, "action"));
                log.add("before: " + observe(after));
                log.add("settled " + k.complete(s, "v"));
                log.add("again " + k.complete(s, "w") + " " + k.fail(s, new IllegalStateException("late")));
                log.add(observe(s));
                log.add(observe(after));
                return log;
            });
        }

        @Test
        @DisplayName("whenComplete after the value runs at once, on the caller's thread")
        void whenCompleteAfterValue() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                k.complete(s, "v");
                Thread caller = Thread.currentThread();
                CompletionStage<String> after = s.whenComplete((v, e) -> log.add("ran on caller " + (Thread.currentThread() == caller) + " with " + v));
                log.add(observe(after));
                return log;
            });
        }

        @Test
        @DisplayName("a failure reaches the action as it is and the returned stage wrapped in a CompletionException")
        void failure() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                CompletionStage<String> after = s.whenComplete(recorder(log, "action"));
                after.whenComplete(recorder(log, "dependent of the returned stage"));
                k.fail(s, new IllegalStateException("broker said no"));
                log.add(observe(s));
                log.add(observe(after));
                CompletionStage<String> late = s.whenComplete(recorder(log, "late action"));
                log.add(observe(late));
                return log;
            });
        }

        @Test
        @DisplayName("an action that throws fails the returned stage, or is suppressed by the failure it was given")
        void throwingAction() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> ok = k.make();
                CompletionStage<String> afterOk = ok.whenComplete((v, e) -> {
                    throw new IllegalArgumentException("action broke");
                });
                afterOk.whenComplete(recorder(log, "dependent of the returned stage"));
                k.complete(ok, "v");
                log.add(observe(ok));
                log.add(observe(afterOk));
                CompletionStage<String> bad = k.make();
                CompletionStage<String> afterBad = bad.whenComplete((v, e) -> {
                    throw new IllegalArgumentException("action broke too");
                });
                k.fail(bad, new IllegalStateException("first"));
                afterBad.whenComplete(recorder(log, "late dependent of the returned stage"));
                log.add(observe(afterBad));
                return log;
            });
        }

        @Test
        @DisplayName("several dependents of every kind all run and see the value")
        void manyDependents() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                CompletionStage<String> a = s.whenComplete(recorder(log, "first"));
                CompletionStage<Integer> b = s.thenApply(String::length);
                CompletionStage<String> c = s.whenComplete(recorder(log, "second"));
                CompletionStage<String> d = s.handle((v, e) -> v + "!");
                CompletionStage<String> e = a.whenComplete(recorder(log, "chained"));
                k.complete(s, "four");
                log.sort(null); // dependents of one stage run in no promised order
                log.add(observe(a) + "; " + observe(b) + "; " + observe(c) + "; " + observe(d) + "; " + observe(e));
                log.add(observe(s.thenCompose(v -> CompletableFuture.completedFuture(v + v))));
                log.add(observe(s.thenCombine(CompletableFuture.completedFuture(1), (x, y) -> x + y)));
                log.add(observe(s.exceptionally(t -> "never")));
                return log;
            });
        }

        @Test
        @DisplayName("null is a value like any other")
        void nullValue() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                CompletionStage<String> after = s.whenComplete(recorder(log, "action"));
                log.add("settled " + k.complete(s, null) + ", again " + k.complete(s, "x"));
                log.add(observe(s) + "; " + observe(after));
                return log;
            });
        }

        @Test
        @DisplayName("cancelling the future of toCompletableFuture cancels the stage")
        void cancel() {
            assertSameAsCompletableFuture(k -> {
                List<String> log = new ArrayList<>();
                CompletionStage<String> s = k.make();
                CompletionStage<String> after = s.whenComplete((v, e) -> log.add("action saw " + (e == null ? "nothing" : e.getClass().getSimpleName())));
                log.add("cancelled " + s.toCompletableFuture().cancel(false));
                log.add("complete afterwards " + k.complete(s, "v"));
                log.add(observe(s) + "; " + observe(after));
                return log;
            });
        }
    }

    @Test
    @DisplayName("a value that is itself one of these stages is kept as a value")
    void stageAsValue() {
        SettableStage<Object> inner = new SettableStage<>();
        CompletionStage<Object> innerAfter = inner.whenComplete((v, e) -> { });
        SettableStage<Object> outer = new SettableStage<>();
        AtomicReference<Object> seen = new AtomicReference<>();
        outer.whenComplete((v, e) -> seen.set(v));
        assertThat(outer.complete(innerAfter)).isTrue();
        assertThat(outer.isDone()).isTrue();
        assertThat(seen.get()).isSameAs(innerAfter);
        assertThat(outer.toCompletableFuture().join()).isSameAs(innerAfter);
        assertThat(outer.complete("other")).isFalse();
        CompletableFuture<Object> mirror = outer.toCompletableFuture();
        SettableStage<Object> third = new SettableStage<>();
        third.complete(mirror);
        assertThat(third.toCompletableFuture().join()).isSameAs(mirror);
    }

    @Test
    @DisplayName("completing the future of toCompletableFuture settles the stage through its own complete()")
    void mirrorSettlesTheStage() {
        List<String> calls = new ArrayList<>();
        SettableStage<String> s = new SettableStage<>() {
            @Override
            public boolean complete(String value) {
                calls.add("complete " + value);
                return super.complete(value);
            }

            @Override
            public boolean completeExceptionally(Throwable failure) {
                calls.add("fail " + failure.getMessage());
                return super.completeExceptionally(failure);
            }
        };
        CompletableFuture<String> f = s.toCompletableFuture();
        assertThat(s.toCompletableFuture()).as("one future while pending").isSameAs(f);
        assertThat(f.complete("v")).isTrue();
        assertThat(f.completeExceptionally(new IllegalStateException("late"))).isFalse();
        assertThat(calls).containsExactly("complete v", "fail late");
        assertThat(s.isDone()).isTrue();
        assertThat(f.join()).isEqualTo("v");
        assertThatThrownBy(() -> f.obtrudeValue("x")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> f.obtrudeException(new RuntimeException())).isInstanceOf(UnsupportedOperationException.class);
        assertThat(s.toString()).endsWith("[Completed normally]");
        assertThat(new SettableStage<>().toString()).endsWith("[Incomplete]");
    }

    @Test
    @DisplayName("orTimeout on the future settles the stage with the timeout")
    void timeoutThroughTheFuture() {
        SettableStage<String> s = new SettableStage<>();
        AtomicReference<Throwable> seen = new AtomicReference<>();
        s.whenComplete((v, e) -> seen.set(e));
        CompletableFuture<String> f = s.toCompletableFuture().orTimeout(10, TimeUnit.MILLISECONDS);
        assertThatThrownBy(f::join).hasCauseInstanceOf(java.util.concurrent.TimeoutException.class);
        assertThat(s.isCompletedExceptionally()).isTrue();
        assertThat(seen.get()).isInstanceOf(java.util.concurrent.TimeoutException.class);
    }

    @Test
    @DisplayName("a chain of ten thousand whenCompletes made before the value runs without exhausting the stack")
    void longChain() {
        SettableStage<String> s = new SettableStage<>();
        AtomicInteger ran = new AtomicInteger();
        CompletionStage<String> last = s;
        for (int i = 0; i < 10_000; i++) {
            last = last.whenComplete((v, e) -> ran.incrementAndGet());
        }
        s.complete("v");
        assertThat(ran).hasValue(10_000);
        assertThat(last.toCompletableFuture().join()).isEqualTo("v");
    }

    @Test
    @DisplayName("racing registrations, futures and settlements: every action runs exactly once, with the winner's outcome")
    void races() throws Exception {
        for (int round = 0; round < 2_000; round++) {
            SettableStage<Integer> s = new SettableStage<>();
            AtomicInteger first = new AtomicInteger();
            AtomicInteger second = new AtomicInteger();
            AtomicReference<Integer> seenByFirst = new AtomicReference<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            List<Boolean> won = java.util.Collections.synchronizedList(new ArrayList<>());
            AtomicReference<CompletableFuture<Integer>> mirror = new AtomicReference<>();
            threads.add(new Thread(() -> {
                await(go);
                s.whenComplete((v, e) -> {
                    first.incrementAndGet();
                    seenByFirst.set(v);
                });
            }));
            threads.add(new Thread(() -> {
                await(go);
                if (ThreadLocalRandom.current().nextBoolean()) {
                    mirror.set(s.toCompletableFuture());
                }
                s.whenComplete((v, e) -> second.incrementAndGet());
            }));
            for (int v = 1; v <= 2; v++) {
                int value = v;
                threads.add(new Thread(() -> {
                    await(go);
                    won.add(s.complete(value));
                }));
            }
            threads.forEach(Thread::start);
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(won).containsExactlyInAnyOrder(true, false);
            assertThat(first).hasValue(1);
            assertThat(second).hasValue(1);
            Integer value = s.toCompletableFuture().join();
            assertThat(seenByFirst.get()).isEqualTo(value);
            if (mirror.get() != null) {
                assertThat(mirror.get().join()).isEqualTo(value);
            }
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
