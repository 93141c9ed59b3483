package dev.courier.spi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A {@link CompletionStage} settled by whoever produces its outcome ({@link #complete},
 * {@link #completeExceptionally}, {@link #cancel}), made for the stage of one publish: created on
 * the caller's thread, given one {@code whenComplete} by the caller, settled on the client's I/O
 * thread. That use costs one object per side and one compare-and-set on each thread. A
 * {@link CompletableFuture} in its place also makes a completion node and a dependent future for
 * the {@code whenComplete}, and the settling thread claims the node, pops it and completes the
 * dependent: three more compare-and-sets on objects that the caller's core made and the I/O
 * thread's core has to fetch, per publish.
 *
 * <p>Everything else (a second dependent, the other {@code then...} methods, {@code join} through
 * {@link #toCompletableFuture()}) goes through a {@code CompletableFuture} made on first use that
 * this stage completes, so it behaves as {@code CompletableFuture} does: the stage returned by
 * {@code whenComplete} completes with this stage's outcome after the action ran, or with the
 * action's exception if only the action failed; failures reach dependents wrapped in a
 * {@link CompletionException}. Completing, failing or cancelling the future from
 * {@code toCompletableFuture()} settles this stage (a subclass's settling rules included).
 * Thread-safe.
 *
 * @param <T> the value
 */
public class SettableStage<T> implements CompletionStage<T> {

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(SettableStage.class, "state", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A value that would be mistaken for a state of this class: null, or a stage of ours. */
    private record Boxed(Object value) {
    }

    private record Failed(Throwable error) {
    }

    private static final Boxed NIL = new Boxed(null);

    /**
     * Pending: {@code null} (nobody waits), a {@link WhenComplete} (one action waits) or a
     * {@link Mirror} (a {@code CompletableFuture} carries every other dependent). Settled: the value,
     * a {@link Boxed} value or a {@link Failed}.
     */
    private volatile Object state;

    /** A pending stage. */
    public SettableStage() {
    }

    /** Settles this stage with {@code value}; @return false if it was settled already */
    public boolean complete(T value) {
        return settle(value == null || value instanceof WhenComplete || value instanceof Mirror ? new Boxed(value) : value);
    }

    /** Settles this stage with {@code failure}; @return false if it was settled already */
    public boolean completeExceptionally(Throwable failure) {
        return settle(new Failed(Objects.requireNonNull(failure, "failure")));
    }

    /**
     * Settles this stage with a {@link CancellationException}, as {@code CompletableFuture.cancel} does.
     *
     * @param mayInterruptIfRunning ignored: nothing runs on behalf of this stage
     * @return whether this stage is cancelled now
     */
    public boolean cancel(boolean mayInterruptIfRunning) {
        return settle(new Failed(new CancellationException())) || isCancelled();
    }

    public boolean isDone() {
        return settled(state);
    }

    public boolean isCompletedExceptionally() {
        return state instanceof Failed;
    }

    public boolean isCancelled() {
        return state instanceof Failed f && f.error() instanceof CancellationException;
    }

    private static boolean settled(Object s) {
        return s != null && !(s instanceof WhenComplete) && !(s instanceof Mirror);
    }

    private boolean settle(Object outcome) {
        Object s;
        do {
            s = state;
            if (settled(s)) {
                return false;
            }
        } while (!STATE.compareAndSet(this, s, outcome));
        if (s instanceof WhenComplete<?> w) {
            w.fire(outcome);
        } else if (s != null) {
            ((Mirror<?>) s).relay(outcome);
        }
        return true;
    }

    @SuppressWarnings("unchecked")
    private static <T> T valueOf(Object outcome) {
        return outcome instanceof Boxed b ? (T) b.value() : (T) outcome;
    }

    private static Throwable errorOf(Object outcome) {
        return outcome instanceof Failed f ? f.error() : null;
    }

    /**
     * Runs {@code action} when this stage is settled: on the settling thread, or on this one if
     * it is settled already. The first action waits here with no future made for it.
     */
    @Override
    public CompletionStage<T> whenComplete(BiConsumer<? super T, ? super Throwable> action) {
        Objects.requireNonNull(action, "action");
        Object s = state;
        if (s == null) {
            WhenComplete<T> w = new WhenComplete<>(action);
            if (STATE.compareAndSet(this, null, w)) {
                return w;
            }
            s = state;
        }
        if (settled(s)) {
            WhenComplete<T> w = new WhenComplete<>(action);
            w.fire(s);
            return w;
        }
        return mirror().whenComplete(action);
    }

    /**
     * A {@code CompletableFuture} with this stage's outcome: made on first use and completed by this
     * stage; a fresh completed one once this stage is settled. Completing, failing or cancelling it
     * settles this stage (if nothing did before).
     */
    @Override
    public CompletableFuture<T> toCompletableFuture() {
        return mirror();
    }

    private CompletableFuture<T> mirror() {
        for (;;) {
            Object s = state;
            if (s instanceof Mirror<?> m) {
                @SuppressWarnings("unchecked")
                Mirror<T> mine = (Mirror<T>) m;
                return mine;
            }
            if (settled(s)) {
                Mirror<T> m = new Mirror<>(this, null);
                m.relay(s);
                return m;
            }
            @SuppressWarnings("unchecked")
            Mirror<T> m = new Mirror<>(this, (WhenComplete<T>) s);
            if (STATE.compareAndSet(this, s, m)) {
                return m;
            }
        }
    }

    @Override
    public String toString() {
        Object s = state;
        String what = !settled(s) ? "Incomplete" : s instanceof Failed f ? "Completed exceptionally: " + f.error() : "Completed normally";
        return super.toString() + "[" + what + "]";
    }

    /**
     * The stage {@code whenComplete} returns, which also holds its action until this stage is
     * settled. Dependents of it go through its own future: settling it never runs more than one
     * level of these on the settling thread's stack.
     */
    private static final class WhenComplete<T> extends SettableStage<T> {
        private BiConsumer<? super T, ? super Throwable> action;

        WhenComplete(BiConsumer<? super T, ? super Throwable> action) {
            this.action = action;
        }

        void fire(Object outcome) {
            BiConsumer<? super T, ? super Throwable> a = action;
            action = null;
            Throwable error = errorOf(outcome);
            Throwable thrown = null;
            try {
                a.accept(error == null ? valueOf(outcome) : null, error);
            } catch (Throwable t) {
                thrown = t;
            }
            if (error != null) {
                if (thrown != null && thrown != error) {
                    error.addSuppressed(thrown);
                }
                completeExceptionally(wrap(error));
            } else if (thrown != null) {
                completeExceptionally(wrap(thrown));
            } else {
                super.settle(outcome);
            }
        }

        private static Throwable wrap(Throwable t) {
            return t instanceof CompletionException ? t : new CompletionException(t);
        }

        @Override
        public CompletionStage<T> whenComplete(BiConsumer<? super T, ? super Throwable> action) {
            return toCompletableFuture().whenComplete(action);
        }
    }

    /**
     * The {@code CompletableFuture} behind every use but the first {@code whenComplete}; it holds that
     * one's action if it came first. Settling it from outside settles its stage instead.
     */
    private static final class Mirror<T> extends CompletableFuture<T> {
        private final SettableStage<T> source;
        private WhenComplete<T> first;

        Mirror(SettableStage<T> source, WhenComplete<T> first) {
            this.source = source;
            this.first = first;
        }

        void relay(Object outcome) {
            WhenComplete<T> w = first;
            if (w != null) {
                first = null;
                w.fire(outcome);
            }
            Throwable error = errorOf(outcome);
            if (error == null) {
                super.complete(valueOf(outcome));
            } else {
                super.completeExceptionally(error);
            }
        }

        @Override
        public boolean complete(T value) {
            return source.complete(value);
        }

        @Override
        public boolean completeExceptionally(Throwable ex) {
            return source.completeExceptionally(ex);
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            return source.cancel(mayInterruptIfRunning) || isCancelled();
        }

        @Override
        public void obtrudeValue(T value) {
            throw new UnsupportedOperationException("this future follows a stage settled elsewhere; complete() settles it");
        }

        @Override
        public void obtrudeException(Throwable ex) {
            throw new UnsupportedOperationException("this future follows a stage settled elsewhere; completeExceptionally() settles it");
        }
    }

    // ---- everything else through the mirror

    @Override
    public <U> CompletionStage<U> thenApply(Function<? super T, ? extends U> fn) {
        return mirror().thenApply(fn);
    }

    @Override
    public <U> CompletionStage<U> thenApplyAsync(Function<? super T, ? extends U> fn) {
        return mirror().thenApplyAsync(fn);
    }

    @Override
    public <U> CompletionStage<U> thenApplyAsync(Function<? super T, ? extends U> fn, Executor executor) {
        return mirror().thenApplyAsync(fn, executor);
    }

    @Override
    public CompletionStage<Void> thenAccept(Consumer<? super T> action) {
        return mirror().thenAccept(action);
    }

    @Override
    public CompletionStage<Void> thenAcceptAsync(Consumer<? super T> action) {
        return mirror().thenAcceptAsync(action);
    }

    @Override
    public CompletionStage<Void> thenAcceptAsync(Consumer<? super T> action, Executor executor) {
        return mirror().thenAcceptAsync(action, executor);
    }

    @Override
    public CompletionStage<Void> thenRun(Runnable action) {
        return mirror().thenRun(action);
    }

    @Override
    public CompletionStage<Void> thenRunAsync(Runnable action) {
        return mirror().thenRunAsync(action);
    }

    @Override
    public CompletionStage<Void> thenRunAsync(Runnable action, Executor executor) {
        return mirror().thenRunAsync(action, executor);
    }

    @Override
    public <U, V> CompletionStage<V> thenCombine(CompletionStage<? extends U> other, BiFunction<? super T, ? super U, ? extends V> fn) {
        return mirror().thenCombine(other, fn);
    }

    @Override
    public <U, V> CompletionStage<V> thenCombineAsync(CompletionStage<? extends U> other, BiFunction<? super T, ? super U, ? extends V> fn) {
        return mirror().thenCombineAsync(other, fn);
    }

    @Override
    public <U, V> CompletionStage<V> thenCombineAsync(CompletionStage<? extends U> other, BiFunction<? super T, ? super U, ? extends V> fn,
            Executor executor) {
        return mirror().thenCombineAsync(other, fn, executor);
    }

    @Override
    public <U> CompletionStage<Void> thenAcceptBoth(CompletionStage<? extends U> other, BiConsumer<? super T, ? super U> action) {
        return mirror().thenAcceptBoth(other, action);
    }

    @Override
    public <U> CompletionStage<Void> thenAcceptBothAsync(CompletionStage<? extends U> other, BiConsumer<? super T, ? super U> action) {
        return mirror().thenAcceptBothAsync(other, action);
    }

    @Override
    public <U> CompletionStage<Void> thenAcceptBothAsync(CompletionStage<? extends U> other, BiConsumer<? super T, ? super U> action,
            Executor executor) {
        return mirror().thenAcceptBothAsync(other, action, executor);
    }

    @Override
    public CompletionStage<Void> runAfterBoth(CompletionStage<?> other, Runnable action) {
        return mirror().runAfterBoth(other, action);
    }

    @Override
    public CompletionStage<Void> runAfterBothAsync(CompletionStage<?> other, Runnable action) {
        return mirror().runAfterBothAsync(other, action);
    }

    @Override
    public CompletionStage<Void> runAfterBothAsync(CompletionStage<?> other, Runnable action, Executor executor) {
        return mirror().runAfterBothAsync(other, action, executor);
    }

    @Override
    public <U> CompletionStage<U> applyToEither(CompletionStage<? extends T> other, Function<? super T, U> fn) {
        return mirror().applyToEither(other, fn);
    }

    @Override
    public <U> CompletionStage<U> applyToEitherAsync(CompletionStage<? extends T> other, Function<? super T, U> fn) {
        return mirror().applyToEitherAsync(other, fn);
    }

    @Override
    public <U> CompletionStage<U> applyToEitherAsync(CompletionStage<? extends T> other, Function<? super T, U> fn, Executor executor) {
        return mirror().applyToEitherAsync(other, fn, executor);
    }

    @Override
    public CompletionStage<Void> acceptEither(CompletionStage<? extends T> other, Consumer<? super T> action) {
        return mirror().acceptEither(other, action);
    }

    @Override
    public CompletionStage<Void> acceptEitherAsync(CompletionStage<? extends T> other, Consumer<? super T> action) {
        return mirror().acceptEitherAsync(other, action);
    }

    @Override
    public CompletionStage<Void> acceptEitherAsync(CompletionStage<? extends T> other, Consumer<? super T> action, Executor executor) {
        return mirror().acceptEitherAsync(other, action, executor);
    }

    @Override
    public CompletionStage<Void> runAfterEither(CompletionStage<?> other, Runnable action) {
        return mirror().runAfterEither(other, action);
    }

    @Override
    public CompletionStage<Void> runAfterEitherAsync(CompletionStage<?> other, Runnable action) {
        return mirror().runAfterEitherAsync(other, action);
    }

    @Override
    public CompletionStage<Void> runAfterEitherAsync(CompletionStage<?> other, Runnable action, Executor executor) {
        return mirror().runAfterEitherAsync(other, action, executor);
    }

    @Override
    public <U> CompletionStage<U> thenCompose(Function<? super T, ? extends CompletionStage<U>> fn) {
        return mirror().thenCompose(fn);
    }

    @Override
    public <U> CompletionStage<U> thenComposeAsync(Function<? super T, ? extends CompletionStage<U>> fn) {
        return mirror().thenComposeAsync(fn);
    }

    @Override
    public <U> CompletionStage<U> thenComposeAsync(Function<? super T, ? extends CompletionStage<U>> fn, Executor executor) {
        return mirror().thenComposeAsync(fn, executor);
    }

    @Override
    public <U> CompletionStage<U> handle(BiFunction<? super T, Throwable, ? extends U> fn) {
        return mirror().handle(fn);
    }

    @Override
    public <U> CompletionStage<U> handleAsync(BiFunction<? super T, Throwable, ? extends U> fn) {
        return mirror().handleAsync(fn);
    }

    @Override
    public <U> CompletionStage<U> handleAsync(BiFunction<? super T, Throwable, ? extends U> fn, Executor executor) {
        return mirror().handleAsync(fn, executor);
    }

    @Override
    public CompletionStage<T> whenCompleteAsync(BiConsumer<? super T, ? super Throwable> action) {
        return mirror().whenCompleteAsync(action);
    }

    @Override
    public CompletionStage<T> whenCompleteAsync(BiConsumer<? super T, ? super Throwable> action, Executor executor) {
        return mirror().whenCompleteAsync(action, executor);
    }

    @Override
    public CompletionStage<T> exceptionally(Function<Throwable, ? extends T> fn) {
        return mirror().exceptionally(fn);
    }

    @Override
    public CompletionStage<T> exceptionallyAsync(Function<Throwable, ? extends T> fn) {
        return mirror().exceptionallyAsync(fn);
    }

    @Override
    public CompletionStage<T> exceptionallyAsync(Function<Throwable, ? extends T> fn, Executor executor) {
        return mirror().exceptionallyAsync(fn, executor);
    }

    @Override
    public CompletionStage<T> exceptionallyCompose(Function<Throwable, ? extends CompletionStage<T>> fn) {
        return mirror().exceptionallyCompose(fn);
    }

    @Override
    public CompletionStage<T> exceptionallyComposeAsync(Function<Throwable, ? extends CompletionStage<T>> fn) {
        return mirror().exceptionallyComposeAsync(fn);
    }

    @Override
    public CompletionStage<T> exceptionallyComposeAsync(Function<Throwable, ? extends CompletionStage<T>> fn, Executor executor) {
        return mirror().exceptionallyComposeAsync(fn, executor);
    }
}
