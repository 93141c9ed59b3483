package dev.courier.reliability;

import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One daemon timer thread for backoffs, handler timeouts and breaker wake-ups. It only hands work
 * over (to a handler executor) or interrupts; it never runs a handler. Cancelled timers are
 * removed at once, so a timeout per delivery costs nothing once the delivery is done.
 */
final class Timers {

    private static final ScheduledThreadPoolExecutor TIMER = create();

    private Timers() {
    }

    private static ScheduledThreadPoolExecutor create() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "courier-reliability-timer");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Runs {@code action} on the timer thread after {@code delay}; it must be quick. */
    static ScheduledFuture<?> schedule(Duration delay, Runnable action) {
        return TIMER.schedule(action, Math.max(0, delay.toNanos()), TimeUnit.NANOSECONDS);
    }

    /** Runs {@code task} on {@code executor} after {@code delay}; {@code rejected} runs instead if the executor refuses it (closing). */
    static ScheduledFuture<?> later(Duration delay, Executor executor, Runnable task, Runnable rejected) {
        return schedule(delay, () -> execute(executor, task, rejected));
    }

    /** Runs {@code task} on {@code executor}, or {@code rejected} on this thread if the executor refuses it. */
    static void execute(Executor executor, Runnable task, Runnable rejected) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            rejected.run();
        }
    }
}
