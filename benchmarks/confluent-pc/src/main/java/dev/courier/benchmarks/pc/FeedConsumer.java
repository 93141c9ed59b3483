package dev.courier.benchmarks.pc;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * (Same as the Courier side's FeedConsumer, compiled against the 3.9 clients.) A {@link MockConsumer} that behaves like a consumer of a prepared topic: every record of the
 * feed is available from the start, a poll returns at most {@code maxPollRecords} records of
 * partitions that are not paused, and a poll with nothing to return blocks until its timeout or
 * {@link #wakeup()} (a plain MockConsumer returns at once, which would make every poll loop spin).
 * The partitions are assigned on the first poll, through the rebalance listener, like a group join.
 */
final class FeedConsumer extends MockConsumer<String, byte[]> {

    private final String topic;
    private final List<List<ConsumerRecord<String, byte[]>>> byPartition = new ArrayList<>();
    private final int[] added;
    private final int maxPollRecords;
    private final Object signal = new Object();
    private volatile boolean wakeupRequested;
    private boolean assigned;

    FeedConsumer(String topic, int partitionCount, int[] feedPartitions, String[] feedKeys, byte[] value, int maxPollRecords) {
        super(org.apache.kafka.clients.consumer.OffsetResetStrategy.EARLIEST);
        this.topic = topic;
        this.maxPollRecords = maxPollRecords;
        this.added = new int[partitionCount];
        for (int p = 0; p < partitionCount; p++) {
            byPartition.add(new ArrayList<>());
        }
        for (int i = 0; i < feedKeys.length; i++) {
            List<ConsumerRecord<String, byte[]>> log = byPartition.get(feedPartitions[i]);
            log.add(new ConsumerRecord<>(topic, feedPartitions[i], log.size(), feedKeys[i], value));
        }
        setMaxPollRecords(maxPollRecords);
    }

    @Override
    public ConsumerRecords<String, byte[]> poll(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        assignOnce();
        while (true) {
            refill();
            ConsumerRecords<String, byte[]> records = super.poll(Duration.ZERO);
            if (!records.isEmpty()) {
                return records;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return records;
            }
            synchronized (signal) {
                if (!wakeupRequested) {
                    try {
                        signal.wait(Math.max(1, left / 1_000_000), 0);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return records;
                    }
                }
                wakeupRequested = false;
            }
        }
    }

    @Override
    public void wakeup() {
        super.wakeup();
        synchronized (signal) {
            wakeupRequested = true;
            signal.notifyAll();
        }
    }

    private void assignOnce() {
        List<TopicPartition> partitions = new ArrayList<>();
        synchronized (this) {
            if (assigned) {
                return;
            }
            assigned = true;
            Map<TopicPartition, Long> beginning = new HashMap<>();
            for (int p = 0; p < byPartition.size(); p++) {
                TopicPartition tp = new TopicPartition(topic, p);
                partitions.add(tp);
                beginning.put(tp, 0L);
            }
            updateBeginningOffsets(beginning);
        }
        // on the polling thread, as a real consumer does inside poll(); MockConsumer.rebalance()
        // calls the subscription's listener itself
        super.rebalance(partitions);
    }

    /** Hands the mock up to one poll's worth of records per unpaused partition. */
    private synchronized void refill() {
        var paused = paused();
        for (int p = 0; p < added.length; p++) {
            TopicPartition tp = new TopicPartition(topic, p);
            List<ConsumerRecord<String, byte[]>> log = byPartition.get(p);
            if (added[p] >= log.size() || paused.contains(tp) || !assignment().contains(tp)) {
                continue;
            }
            long position = position(tp);
            while (added[p] < log.size() && added[p] - position < maxPollRecords) {
                addRecord(log.get(added[p]++));
            }
        }
    }
}
