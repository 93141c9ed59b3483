package dev.courier.mem;

import dev.courier.Message;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;

/** Request-reply bookkeeping of the in-memory broker: pending requests by reply address. */
final class MemoryRequests {

    /** Reply addresses of the in-memory broker start with this. */
    static final String REPLY_PREFIX = "mem-inbox:";

    private MemoryRequests() {
    }

    /** A request waiting for its reply; the timer fails it at its timeout. */
    static final class Pending {
        final CompletableFuture<Message> reply = new CompletableFuture<>();
        volatile ScheduledFuture<?> timer;
    }
}
