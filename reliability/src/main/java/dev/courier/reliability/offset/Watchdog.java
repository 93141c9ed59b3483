package dev.courier.reliability.offset;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One daemon thread for the whole JVM that has every open {@link Dispatcher} look for work waiting
 * behind worker loops that are all busy ({@link Dispatcher#watch()}), every {@value #PERIOD_MILLIS}
 * ms, one task for all of them. A dispatcher is held weakly, so one whose coordinator was never
 * closed can still be collected. The task stops when nothing is watched, and the thread ends after
 * a few idle seconds.
 */
final class Watchdog {

    static final long PERIOD_MILLIS = 2;

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);
    private static final ScheduledThreadPoolExecutor TIMER = timer();
    private static final Object LOCK = new Object();
    /** Guarded by {@link #LOCK}. */
    private static final List<WeakReference<Dispatcher<?>>> WATCHED = new ArrayList<>();
    /** Guarded by {@link #LOCK}. */
    private static ScheduledFuture<?> task;
    /** What the task walks: a copy of {@link #WATCHED}, replaced on every change. */
    private static volatile List<WeakReference<Dispatcher<?>>> snapshot = List.of();

    private Watchdog() {
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "courier-dispatch-watchdog");
            thread.setDaemon(true);
            return thread;
        });
        timer.setRemoveOnCancelPolicy(true);
        timer.setKeepAliveTime(5, TimeUnit.SECONDS);
        timer.allowCoreThreadTimeOut(true);
        return timer;
    }

    /** Watches {@code dispatcher} until the returned action runs. */
    static Runnable watch(Dispatcher<?> dispatcher) {
        WeakReference<Dispatcher<?>> ref = new WeakReference<>(dispatcher);
        synchronized (LOCK) {
            WATCHED.add(ref);
            snapshot = List.copyOf(WATCHED);
            if (task == null) {
                task = TIMER.scheduleWithFixedDelay(Watchdog::tick, PERIOD_MILLIS, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
        return () -> forget(ref);
    }

    private static void forget(WeakReference<Dispatcher<?>> ref) {
        synchronized (LOCK) {
            WATCHED.remove(ref);
            changed();
        }
    }

    /** Under {@link #LOCK}: publishes the list and stops the task when nothing is left. */
    private static void changed() {
        snapshot = List.copyOf(WATCHED);
        if (WATCHED.isEmpty() && task != null) {
            task.cancel(false);
            task = null;
        }
    }

    private static void tick() {
        boolean cleared = false;
        for (WeakReference<Dispatcher<?>> ref : snapshot) {
            Dispatcher<?> dispatcher = ref.get();
            if (dispatcher == null) {
                cleared = true;
                continue;
            }
            try {
                dispatcher.watch();
            } catch (RuntimeException | Error e) {
                // a failure here must not end the schedule (a task that throws is never run again)
                log.error("looking for waiting records failed", e);
            }
        }
        if (cleared) {
            synchronized (LOCK) {
                WATCHED.removeIf(r -> r.get() == null);
                changed();
            }
        }
    }
}
