package dev.courier.reliability.offset;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Back-pressure decisions with hysteresis: once the held records reach the bound every assigned
 * partition is paused, and all of them resume when the held count has fallen to the resume
 * threshold. The gap between the two stops the consumer from flapping on every record.
 *
 * <p>Pausing everything (rather than the busiest partition) is what keeps memory bounded: any
 * partition that kept fetching could grow without limit behind a slow record elsewhere.
 *
 * <p>Not thread-safe: used by the poll thread only. The held count it reads is updated by any
 * thread, which is why resumption is decided when the poll thread asks, not when a record finishes.
 */
final class FlowControl {

    private final long maxHeld;
    private final long resumeAt;
    private final AtomicLong held;
    private final Set<PartitionId> paused = new LinkedHashSet<>();
    private boolean pausing;

    FlowControl(long maxHeld, long resumeAt, AtomicLong held) {
        this.maxHeld = maxHeld;
        this.resumeAt = resumeAt;
        this.held = held;
    }

    /** Partitions to pause now: every assigned one not yet paused, while over the bound. */
    Set<PartitionId> toPause(Collection<PartitionId> assigned) {
        if (!pausing && held.get() >= maxHeld) {
            pausing = true;
        }
        if (!pausing) {
            return Set.of();
        }
        Set<PartitionId> newlyPaused = new LinkedHashSet<>();
        for (PartitionId partition : assigned) {
            if (paused.add(partition)) {
                newlyPaused.add(partition);
            }
        }
        return Collections.unmodifiableSet(newlyPaused);
    }

    /** Partitions to resume now: all paused ones, once the held count is down to the threshold. */
    Set<PartitionId> toResume() {
        if (!pausing || held.get() > resumeAt) {
            return Set.of();
        }
        pausing = false;
        Set<PartitionId> resumed = Collections.unmodifiableSet(new LinkedHashSet<>(paused));
        paused.clear();
        return resumed;
    }

    /** A revoked or lost partition needs no resume. */
    void forget(PartitionId partition) {
        paused.remove(partition);
    }

    Set<PartitionId> paused() {
        return Collections.unmodifiableSet(new LinkedHashSet<>(paused));
    }
}
