package dev.courier.reliability.offset;

import java.lang.ref.WeakReference;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One daemon thread for the whole JVM that has every open {@link Dispatcher} look for work waiting
 * behind worker loops that are all busy ({@link Dispatcher#watch()}). A dispatcher is held weakly,
 * so one whose coordinator was never closed can still be collected; its check then cancels itself.
 * The thread ends after a few idle seconds and is started again when needed.
 */
final class Watchdog {

    private static final Logger log = LoggerFactory.getLogger(OffsetCommitCoordinator.class);

    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private Watchdog() {
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, task -> {
            Thread thread = new Thread(task, "courier-dispatch-watchdog");
            thread.setDaemon(true);
            return thread;
        });
        timer.setRemoveOnCancelPolicy(true);
        timer.setKeepAliveTime(5, TimeUnit.SECONDS);
        timer.allowCoreThreadTimeOut(true);
        return timer;
    }

    /** Has {@code dispatcher} watched every {@code periodMillis}; cancel the returned future to stop. */
    static ScheduledFuture<?> watch(Dispatcher<?> dispatcher, long periodMillis) {
        WeakReference<Dispatcher<?>> ref = new WeakReference<>(dispatcher);
        AtomicReference<ScheduledFuture<?>> self = new AtomicReference<>();
        ScheduledFuture<?> future = TIMER.scheduleWithFixedDelay(() -> {
            Dispatcher<?> watched = ref.get();
            if (watched == null) {
                ScheduledFuture<?> mine = self.get();
                if (mine != null) {
                    mine.cancel(false);
                }
                return;
            }
            try {
                watched.watch();
            } catch (RuntimeException | Error e) {
                // a failure here must not end the schedule (a thrown task is never run again)
                log.error("looking for waiting records failed", e);
            }
        }, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
        self.set(future);
        return future;
    }
}
