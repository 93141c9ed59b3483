package dev.courier.benchmarks.kafka;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Clock of one benchmark run: starts when the first handler starts, stops when the
 * {@code expected}-th handler finishes. Group joins, topic lookups and thread-pool start-up before
 * the first record are therefore not counted, on any side.
 */
final class Timing {

    private final int expected;
    private final AtomicLong first = new AtomicLong();
    private final AtomicInteger finished = new AtomicInteger();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile long last;

    Timing(int expected) {
        this.expected = expected;
    }

    void started() {
        if (first.get() == 0) {
            first.compareAndSet(0, System.nanoTime());
        }
    }

    void finished() {
        int n = finished.incrementAndGet();
        if (n == expected) {
            last = System.nanoTime();
            done.countDown();
        }
    }

    int count() {
        return finished.get();
    }

    boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return done.await(timeout, unit);
    }

    double elapsedMs() {
        return (last - first.get()) / 1e6;
    }
}
