package dev.courier.reliability.offset;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One daemon thread for the whole JVM that has every open {@link Dispatcher} look for work waiting
 * behind worker loops that are all busy ({@link Dispatcher#watch()}), one task for all of them:
 * every {@value #PERIOD_MILLIS} ms while some dispatcher has such work, every
 * {@value #IDLE_PERIOD_MILLIS} ms while none has (waking 500 times a second for subscriptions with
 * nothing waiting cost about 1 % of a core). A dispatcher is held weakly, so one whose coordinator
 * was never closed can still be collected. The task stops when nothing is watched, and the thread
 * ends after a few idle seconds.
 */
final class Watchdog {

    static final long PERIOD_MILLIS = 2;
    /** Between looks while no dispatcher had work waiting behind its loops at the last one. */
    static final long IDLE_PERIOD_MILLIS = 20;

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);
    private static final ScheduledThreadPoolExecutor TIMER = timer();
    private static final Object LOCK = new Object();
    /** Guarded by {@link #LOCK}. */
    private static final List<WeakReference<Dispatcher<?>>> WATCHED = new ArrayList<>();
    /**
     * Guarded by {@link #LOCK}: a look is scheduled or running. Each look schedules the next one
     * while anything is watched; nothing cancels them, so there is never more than one chain.
     */
    private static boolean looking;
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
            if (!looking) {
                looking = true;
                TIMER.schedule(Watchdog::tick, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
        return () -> forget(ref);
    }

    private static void forget(WeakReference<Dispatcher<?>> ref) {
        synchronized (LOCK) {
            WATCHED.remove(ref);
            snapshot = List.copyOf(WATCHED);
        }
    }

    private static void tick() {
        boolean cleared = false;
        boolean waiting = false;
        for (WeakReference<Dispatcher<?>> ref : snapshot) {
            Dispatcher<?> dispatcher = ref.get();
            if (dispatcher == null) {
                cleared = true;
                continue;
            }
            try {
                waiting |= dispatcher.watch();
            } catch (RuntimeException | Error e) {
                // a failure here must not end the looks
                log.error("looking for waiting records failed", e);
                waiting = true;
            }
        }
        synchronized (LOCK) {
            if (cleared) {
                WATCHED.removeIf(r -> r.get() == null);
                snapshot = List.copyOf(WATCHED);
            }
            if (WATCHED.isEmpty()) {
                looking = false;
            } else {
                TIMER.schedule(Watchdog::tick, waiting ? PERIOD_MILLIS : IDLE_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
    }
}
