package dev.courier.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An atomic count that shares its cache line with nothing else. Counts that different threads
 * update, such as publishes started on the caller's thread and settled on the client's I/O thread,
 * otherwise sit side by side in memory and make the two cores take the line from each other on
 * every publish. Thread-safe.
 */
final class LoneCounter extends LoneCounterValue {

    // the line after the value; the superclass pads the one before it (fields of a superclass come first)
    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6, q7;

    long get() {
        return value;
    }

    void add(long n) {
        VALUE.getAndAdd(this, n);
    }

    void increment() {
        VALUE.getAndAdd(this, 1L);
    }
}

abstract class LoneCounterPad {
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6, p7;
}

abstract class LoneCounterValue extends LoneCounterPad {
    static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(LoneCounterValue.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    volatile long value;
}
