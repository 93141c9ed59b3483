package dev.courier.reliability.offset;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Creates executors for running record handlers: one virtual thread per handler on a JVM that has
 * them (Java 21 and later), otherwise a bounded pool of platform threads.
 *
 * <p>Virtual threads are looked up by reflection, so this code compiles for and runs on Java 17.
 * The {@link OffsetCommitCoordinator} already caps how many handlers run at once, so the virtual
 * thread executor needs no bound of its own, and the platform pool's queue never holds more than
 * that cap.
 *
 * <p>Thread-safe; stateless. The caller owns and must shut down the executors it creates.
 */
public final class HandlerExecutors {

    /** Platform pools up to this size start all their threads when created. */
    static final int PRESTART_LIMIT = 256;

    private HandlerExecutors() {
    }

    /**
     * Whether this JVM offers final (non-preview) virtual threads.
     */
    public static boolean virtualThreadsAvailable() {
        return virtualThreadFactory("courier-probe-") != null;
    }

    /**
     * Virtual threads when available, else {@link #platformThreads(int, String)}.
     *
     * @param maxConcurrency   the most handlers that will run at once, between 1 and 32,767 (sizes the
     *                         platform pool)
     * @param threadNamePrefix prefix for thread names, not blank
     * @throws IllegalArgumentException if an argument is out of range
     */
    public static ExecutorService create(int maxConcurrency, String threadNamePrefix) {
        validate(maxConcurrency, threadNamePrefix);
        ThreadFactory virtual = virtualThreadFactory(threadNamePrefix);
        if (virtual != null) {
            ExecutorService perTask = threadPerTask(virtual);
            if (perTask != null) {
                return perTask;
            }
        }
        return platformThreads(maxConcurrency, threadNamePrefix);
    }

    /**
     * A pool of up to {@code threads} daemon platform threads that time out when idle. Daemon,
     * because an unclosed coordinator must not keep the JVM alive: records it had not finished were
     * not committed, so they are redelivered.
     *
     * <p>A task goes to the thread that went idle last, so a worker loop started again and again
     * (fast handlers, one loop per poll) runs on the same warm thread while the others sleep; a
     * {@code ThreadPoolExecutor} woke its longest-idle thread each time, through a lock all idle
     * threads share. Never more than {@code threads} run; tasks given while all are busy wait in
     * order. Starting a thread costs about a millisecond on small machines, on whichever thread
     * gives the task (the coordinator's poll thread), so up to
     * {@value #PRESTART_LIMIT} threads are started here, when the pool is created; larger pools are
     * started by a separate thread, since starting thousands of threads takes seconds that the poll
     * thread must not spend (measured: 50,000 records of 100 ms at concurrency 5,000 took 10.2 s
     * with threads started on demand and 2.6 s prestarted). For concurrency in the thousands prefer
     * a JVM with virtual threads (see {@link #create}): 1.1 s for the same run. Idle threads,
     * prestarted or not, end after 30 seconds.
     *
     * @param threads          pool size, between 1 and 32,767
     * @param threadNamePrefix prefix for thread names, not blank
     * @throws IllegalArgumentException if an argument is out of range
     */
    public static ExecutorService platformThreads(int threads, String threadNamePrefix) {
        validate(threads, threadNamePrefix);
        PlatformThreadPool pool = new PlatformThreadPool(threads, threadNamePrefix, 30, TimeUnit.SECONDS);
        if (threads <= PRESTART_LIMIT) {
            pool.prestart(threads);
        } else {
            // thousands of threads take seconds to start: do it beside the poll thread rather than on it
            Thread starter = new Thread(() -> pool.prestart(threads), threadNamePrefix + "starter");
            starter.setDaemon(true);
            starter.start();
        }
        return pool;
    }

    private static void validate(int threads, String prefix) {
        if (threads < 1 || threads > Short.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "thread count must be between 1 and " + Short.MAX_VALUE + " (was " + threads + ")");
        }
        if (prefix == null || prefix.isBlank()) {
            throw new IllegalArgumentException("thread name prefix must not be blank");
        }
    }

    /** Thread.ofVirtual().name(prefix, 0).factory(), or null where that is missing or preview-only. */
    private static ThreadFactory virtualThreadFactory(String prefix) {
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            Class<?> builderType = Class.forName("java.lang.Thread$Builder");
            builder = builderType.getMethod("name", String.class, long.class).invoke(builder, prefix, 0L);
            return (ThreadFactory) builderType.getMethod("factory").invoke(builder);
        } catch (NoSuchMethodException | ClassNotFoundException | IllegalAccessException e) {
            return null;
        } catch (InvocationTargetException e) {
            // Java 19 and 20 have the method but throw UnsupportedOperationException without
            // --enable-preview.
            return null;
        }
    }

    private static ExecutorService threadPerTask(ThreadFactory factory) {
        try {
            Method method = Executors.class.getMethod("newThreadPerTaskExecutor", ThreadFactory.class);
            return (ExecutorService) method.invoke(null, factory);
        } catch (NoSuchMethodException | IllegalAccessException | InvocationTargetException e) {
            return null;
        }
    }
}
