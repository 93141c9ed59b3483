package dev.courier.internal;

import dev.courier.ConfigurationException;

import java.lang.reflect.Method;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Creates the executors a Courier owns. Handlers run on virtual threads when the JVM has them
 * (21+) and the config allows, else on a cached pool of daemon platform threads; each
 * subscription's concurrency bounds how many of them it uses at once.
 */
public final class HandlerExecutors {

    private HandlerExecutors() {
    }

    /** {@code auto}, {@code virtual} or {@code platform}. */
    public static ExecutorService handlerExecutor(String mode) {
        if (!"platform".equals(mode)) {
            ExecutorService virtual = virtualThreadExecutor();
            if (virtual != null) {
                return virtual;
            }
            if ("virtual".equals(mode)) {
                throw new ConfigurationException("courier.handler.threads=virtual needs JDK 21 or newer; this JVM is "
                        + Runtime.version() + ". Use auto or platform");
            }
        }
        return Executors.newCachedThreadPool(daemonThreads("courier-handler"));
    }

    /** Whether this JVM can run virtual threads. */
    public static boolean virtualThreadsAvailable() {
        try {
            Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private static ExecutorService virtualThreadExecutor() {
        try {
            // reflection keeps the code compiling for release 17
            Method m = Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
            return (ExecutorService) m.invoke(null);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    public static ScheduledExecutorService scheduler() {
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, daemonThreads("courier-timer"));
        s.setRemoveOnCancelPolicy(true);
        return s;
    }

    public static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
