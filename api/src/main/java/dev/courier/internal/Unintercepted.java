package dev.courier.internal;

/**
 * Subscription option ({@link dev.courier.Subscribe#with(Object)}) of Courier's own tools, such as
 * the dead-letter listing and redrive of {@code courier-reliability}: the handler runs without the
 * Courier's interceptors. Such a tool settles every delivery itself and holds some unsettled on
 * purpose; an application's policy (retry, handler timeout, idempotency, its own interceptors) must
 * not retry, time out, dead-letter or skip them. Bindings ignore it. Not for applications.
 */
public enum Unintercepted {
    INSTANCE
}
