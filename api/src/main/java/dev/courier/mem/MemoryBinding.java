package dev.courier.mem;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.DeliveryMetadata;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** The {@code mem://} binding: a connection to a named {@link MemoryBroker}. */
final class MemoryBinding implements Binding {

    static final Capabilities CAPABILITIES = Capabilities.of("mem", 64L * 1024 * 1024,
            Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.LATE_GROUP_RECEIVES_EARLIER, Capability.PER_KEY_ORDER,
            Capability.REDELIVERY, Capability.NATIVE_DELAYED_REDELIVERY, Capability.ORDERED_DELAYED_REDELIVERY, Capability.DEAD_LETTER, Capability.REQUEST_REPLY,
            Capability.NATIVE_REQUEST_REPLY, Capability.NO_RESPONDER_DETECTION, Capability.REPLAY, Capability.AT_LEAST_ONCE,
            Capability.PUBLISH_CONFIRMS);

    private final MemoryBroker broker;
    private final BindingContext context;
    private final Duration publishTimeout;

    MemoryBinding(MemoryBroker broker, BindingContext context) {
        this.broker = broker;
        this.context = context;
        this.publishTimeout = context.config().publishTimeout();
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        PublishException tooLarge = tooLarge(message);
        if (tooLarge != null) {
            return CompletableFuture.failedFuture(tooLarge);
        }
        CompletableFuture<Long> stored = broker.topic(message.topic()).publish(message, publishTimeout, context.handlerExecutor());
        if (stored.isDone() && !stored.isCompletedExceptionally()) {
            return CompletableFuture.completedFuture(receipt(message, stored.join()));
        }
        return stored.thenApply(offset -> receipt(message, offset));
    }

    /**
     * The refusal of a payload above the declared {@link Capabilities#maxPayloadBytes()}, or null:
     * the real brokers refuse such a message, so code tested on {@code mem://} must meet the limit
     * there too instead of first on a broker.
     */
    private static PublishException tooLarge(Message m) {
        long max = CAPABILITIES.maxPayloadBytes();
        if (m.payloadSize() <= max) {
            return null;
        }
        return new PublishException(m.topic(), "message " + m.id() + " has a payload of " + m.payloadSize()
                + " bytes, more than the " + max + " bytes (" + (max >> 20) + " MiB) mem:// accepts; "
                + "send a smaller payload, e.g. a reference to data stored elsewhere", null, false);
    }

    private static PublishReceipt receipt(Message m, long offset) {
        return new PublishReceipt(m.id(), m.topic(), DeliveryMetadata.sequence(offset, false), false);
    }

    @Override
    public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
        MemoryTopic topic = broker.topic(spec.topic());
        MemoryGroup group = topic.join(spec, "broadcast-" + UUID.randomUUID());
        MemorySubscription member = new MemorySubscription(group, spec, processor, context.handlerExecutor());
        synchronized (topic.lock) {
            group.addMember(member);
        }
        group.pump();
        return member;
    }

    @Override
    public CompletionStage<Message> request(Message request, Duration timeout) {
        MemoryTopic topic = broker.topic(request.topic());
        synchronized (topic.lock) {
            if (!topic.hasActiveMembers()) {
                return CompletableFuture.failedFuture(new NoResponderException(request.topic()));
            }
        }
        String inbox = REPLY + UUID.randomUUID();
        MemoryRequests.Pending pending = new MemoryRequests.Pending();
        broker.pendingRequests().put(inbox, pending);
        pending.timer = MemoryTopic.TIMER.schedule(() -> {
            if (broker.pendingRequests().remove(inbox, pending)) {
                fail(pending, new RequestTimeoutException(request.topic(), timeout));
            }
        }, TimeUnit.NANOSECONDS.convert(timeout), TimeUnit.NANOSECONDS); // saturates rather than overflowing
        Message sent = request.toBuilder().header(HeaderNames.REPLY_TO, inbox).build();
        publish(sent).whenComplete((r, e) -> {
            if (e != null && broker.pendingRequests().remove(inbox, pending)) {
                pending.timer.cancel(false);
                fail(pending, e);
            }
        });
        return pending.reply;
    }

    /**
     * Fails a waiting request on the handler executor, not on the in-memory broker's one timer thread
     * (shared by every {@code mem://} Courier of the JVM), where its timeout and a publish's fire: code
     * chained onto the failure that blocks there (a retry waiting for its own reply, say) would hold up
     * every other timer. Inline only when the executor refuses it, as the Courier is closing.
     */
    private void fail(MemoryRequests.Pending pending, Throwable e) {
        try {
            context.handlerExecutor().execute(() -> pending.reply.completeExceptionally(e));
        } catch (RejectedExecutionException rejected) {
            pending.reply.completeExceptionally(e);
        }
    }

    private static final String REPLY = MemoryRequests.REPLY_PREFIX;

    @Override
    public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
        PublishException tooLarge = tooLarge(reply);
        if (tooLarge != null) {
            return CompletableFuture.failedFuture(tooLarge);
        }
        String inbox = request.header(HeaderNames.REPLY_TO);
        if (inbox != null) {
            MemoryRequests.Pending pending = broker.pendingRequests().remove(inbox);
            if (pending != null) {
                ScheduledFuture<?> t = pending.timer;
                if (t != null) {
                    t.cancel(false);
                }
                pending.reply.complete(reply);
            }
        }
        // a reply nobody waits for any more (timed out) is dropped, as a broker would
        return CompletableFuture.completedFuture(PublishReceipt.of(reply));
    }

    @Override
    public void close() {
        broker.release();
    }
}
