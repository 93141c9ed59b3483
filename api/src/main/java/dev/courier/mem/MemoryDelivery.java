package dev.courier.mem;

import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.spi.InboundDelivery;

import java.time.Duration;
import java.util.Objects;

/** One delivery of a group entry to a member. Settling a stale delivery (taken back at close) does nothing. */
final class MemoryDelivery implements InboundDelivery {

    final MemoryGroup.Entry entry;
    final MemorySubscription member;
    private final int attempt;

    MemoryDelivery(MemoryGroup.Entry entry, MemorySubscription member) {
        this.entry = entry;
        this.member = member;
        this.attempt = entry.attempt;
    }

    @Override
    public Message message() {
        return entry.message;
    }

    @Override
    public int attempt() {
        return attempt;
    }

    @Override
    public DeliveryMetadata metadata() {
        return DeliveryMetadata.sequence(entry.offset, attempt > 1);
    }

    @Override
    public <T> T unwrap(Class<T> type) {
        return null;
    }

    @Override
    public void ack() {
        member.group.settle(this, null);
    }

    @Override
    public void nack(Duration delay) {
        member.group.settle(this, Objects.requireNonNull(delay, "delay"));
    }

    @Override
    public void reject() {
        member.group.settle(this, null);
    }
}
