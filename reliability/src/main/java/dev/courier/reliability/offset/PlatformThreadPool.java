package dev.courier.reliability.offset;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Up to a fixed number of daemon platform threads that take tasks one at a time, handing each new
 * task to the thread that went idle last.
 *
 * <p>Why not a {@link java.util.concurrent.ThreadPoolExecutor}: its idle threads all wait on one
 * queue's lock and condition, and a task wakes the one that has waited longest. With fast handlers
 * the coordinator runs one worker loop at a time, started again for every poll, and in a pool of
 * eight every start woke a different, cold thread. Here each idle thread parks on its own and the
 * last one to go idle is woken first: a loop started again and again runs on the same thread while
 * the others sleep, and slow handlers still get every thread. {@code HandOffCost} at concurrency
 * 8 (the coordinator's own pool, two alternating pairs of runs): the feeding thread spent 157-162
 * ns per record against 166-183 with a {@code ThreadPoolExecutor}, the loops 66-78 ns against
 * 66-90.
 *
 * <p>A task given while every thread is busy waits in a queue, taken in order by the next thread
 * that finishes (the coordinator never has more loops than threads, but a loop that has just ended
 * may not have handed its thread back yet). Idle threads end after the keep-alive; new ones start
 * on demand. A task that throws is reported to the thread's uncaught-exception handler and the
 * thread goes on. {@link #shutdown()} lets queued tasks run; {@link #shutdownNow()} drops them and
 * interrupts running ones.
 *
 * <p>Thread-safe. One lock guards the idle stack, the queue and the counts; it is held for a few
 * field updates, never while a task runs or a thread waits.
 */
final class PlatformThreadPool extends AbstractExecutorService {

    private final String namePrefix;
    private final int maxThreads;
    private final long keepAliveNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition terminated = lock.newCondition();
    /** Idle workers, the one that went idle last first. */
    private final ArrayDeque<Worker> idle = new ArrayDeque<>();
    private final ArrayDeque<Runnable> queue = new ArrayDeque<>();
    private final Set<Worker> workers = new HashSet<>();
    private int nextId;
    private int largest;
    private boolean shutdown;

    PlatformThreadPool(int maxThreads, String namePrefix, long keepAlive, TimeUnit unit) {
        this.maxThreads = maxThreads;
        this.namePrefix = namePrefix;
        this.keepAliveNanos = unit.toNanos(keepAlive);
    }

    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task, "task");
        Worker wake;
        Worker start = null;
        lock.lock();
        try {
            if (shutdown) {
                throw new RejectedExecutionException("the handler thread pool '" + namePrefix + "' is shut down");
            }
            wake = idle.pollFirst();
            if (wake != null) {
                wake.task = task;
            } else if (workers.size() < maxThreads) {
                start = newWorker(task);
            } else {
                queue.addLast(task);
            }
        } finally {
            lock.unlock();
        }
        if (wake != null) {
            LockSupport.unpark(wake.thread);
        } else if (start != null) {
            start.thread.start();
        }
    }

    /**
     * Starts threads until there are {@code count} (at most the pool's size); they wait idle.
     *
     * @return how many were started
     */
    int prestart(int count) {
        List<Worker> started = new ArrayList<>();
        lock.lock();
        try {
            while (!shutdown && workers.size() < Math.min(count, maxThreads)) {
                started.add(newWorker(null));
            }
        } finally {
            lock.unlock();
        }
        started.forEach(w -> w.thread.start());
        return started.size();
    }

    /** Under the lock. */
    private Worker newWorker(Runnable first) {
        Worker w = new Worker(first, namePrefix + nextId++);
        workers.add(w);
        largest = Math.max(largest, workers.size());
        return w;
    }

    @Override
    public void shutdown() {
        List<Worker> waking;
        lock.lock();
        try {
            shutdown = true;
            waking = new ArrayList<>(idle);
            if (workers.isEmpty()) {
                terminated.signalAll();
            }
        } finally {
            lock.unlock();
        }
        waking.forEach(w -> LockSupport.unpark(w.thread));
    }

    @Override
    public List<Runnable> shutdownNow() {
        List<Runnable> dropped;
        List<Worker> all;
        lock.lock();
        try {
            dropped = new ArrayList<>(queue);
            queue.clear();
            all = new ArrayList<>(workers);
        } finally {
            lock.unlock();
        }
        shutdown();
        for (Worker w : all) {
            w.thread.interrupt();
        }
        return dropped;
    }

    @Override
    public boolean isShutdown() {
        lock.lock();
        try {
            return shutdown;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean isTerminated() {
        lock.lock();
        try {
            return shutdown && workers.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        long remaining = unit.toNanos(timeout);
        lock.lock();
        try {
            while (!(shutdown && workers.isEmpty())) {
                if (remaining <= 0) {
                    return false;
                }
                remaining = terminated.awaitNanos(remaining);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Threads alive now. */
    int poolSize() {
        lock.lock();
        try {
            return workers.size();
        } finally {
            lock.unlock();
        }
    }

    /** The most threads ever alive at once. */
    int largestPoolSize() {
        lock.lock();
        try {
            return largest;
        } finally {
            lock.unlock();
        }
    }

    /** Threads waiting for a task now. */
    int idleCount() {
        lock.lock();
        try {
            return idle.size();
        } finally {
            lock.unlock();
        }
    }

    int maximumPoolSize() {
        return maxThreads;
    }

    long keepAliveNanos() {
        return keepAliveNanos;
    }

    private final class Worker implements Runnable {
        final Thread thread;
        /** The task handed to this idle worker; written and read under the lock. */
        Runnable task;
        private final Runnable first;

        Worker(Runnable first, String name) {
            this.first = first;
            this.thread = new Thread(this, name);
            this.thread.setDaemon(true);
        }

        @Override
        public void run() {
            Runnable next = first != null ? first : next();
            while (next != null) {
                try {
                    next.run();
                } catch (Throwable e) {
                    thread.getUncaughtExceptionHandler().uncaughtException(thread, e);
                }
                Thread.interrupted(); // an interrupt meant for the task ends with it
                next = next();
            }
        }

        /** The next task: a queued one, else one handed over while idle; null when this thread ends. */
        private Runnable next() {
            lock.lock();
            try {
                Runnable queued = queue.pollFirst();
                if (queued != null) {
                    return queued;
                }
                if (shutdown) {
                    return exit();
                }
                task = null;
                idle.addFirst(this);
                long deadline = System.nanoTime() + keepAliveNanos;
                while (task == null) {
                    long remaining = deadline - System.nanoTime();
                    if (shutdown || remaining <= 0) {
                        idle.remove(this);
                        return exit();
                    }
                    lock.unlock();
                    try {
                        Thread.interrupted(); // a stray interrupt must not turn the wait into a spin
                        LockSupport.parkNanos(this, remaining);
                    } finally {
                        lock.lock();
                    }
                }
                Runnable handed = task;
                task = null;
                return handed;
            } finally {
                lock.unlock();
            }
        }

        /** Under the lock: this thread ends. */
        private Runnable exit() {
            workers.remove(this);
            if (shutdown && workers.isEmpty()) {
                terminated.signalAll();
            }
            return null;
        }
    }
}
