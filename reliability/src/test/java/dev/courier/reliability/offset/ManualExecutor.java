package dev.courier.reliability.offset;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executor;

/** An executor that only queues tasks; the test decides when they run, on its own thread. */
final class ManualExecutor implements Executor {

    private final Deque<Runnable> tasks = new ArrayDeque<>();

    @Override
    public synchronized void execute(Runnable task) {
        tasks.add(task);
    }

    synchronized int pending() {
        return tasks.size();
    }

    /** Runs queued tasks, including ones queued while running, until none is left. */
    void runAll() {
        Runnable next;
        while ((next = poll()) != null) {
            next.run();
        }
    }

    /** Runs the tasks queued now, but not the ones they queue. */
    void runQueued() {
        Runnable[] queued;
        synchronized (this) {
            queued = tasks.toArray(new Runnable[0]);
            tasks.clear();
        }
        for (Runnable task : queued) {
            task.run();
        }
    }

    private synchronized Runnable poll() {
        return tasks.poll();
    }
}
