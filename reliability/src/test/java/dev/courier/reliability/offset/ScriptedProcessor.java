package dev.courier.reliability.offset;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A processor whose records finish when the test says so. Every started record gets an
 * incomplete future; {@link #succeed} and {@link #fail} complete it. Thread-safe.
 */
final class ScriptedProcessor implements RecordProcessor<TestRecord> {

    private final Map<TestRecord, CompletableFuture<Void>> running = new LinkedHashMap<>();
    private final List<TestRecord> started = new ArrayList<>();

    @Override
    public synchronized CompletionStage<?> process(TestRecord record) {
        if (running.containsKey(record)) {
            throw new AssertionError(record + " started while already running");
        }
        CompletableFuture<Void> future = new CompletableFuture<>();
        running.put(record, future);
        started.add(record);
        return future;
    }

    void succeed(PartitionId partition, long offset) {
        take(partition, offset).complete(null);
    }

    void fail(PartitionId partition, long offset) {
        take(partition, offset).completeExceptionally(new IllegalStateException("boom at " + offset));
    }

    synchronized boolean isRunning(PartitionId partition, long offset) {
        return running.keySet().stream().anyMatch(r -> r.partition().equals(partition) && r.offset() == offset);
    }

    /** Offsets of the given partition that are running now, in start order. */
    synchronized List<Long> runningOffsets(PartitionId partition) {
        return running.keySet().stream().filter(r -> r.partition().equals(partition)).map(TestRecord::offset).toList();
    }

    /** Offsets of the given partition in the order they were started (retries appear again). */
    synchronized List<Long> startedOffsets(PartitionId partition) {
        return started.stream().filter(r -> r.partition().equals(partition)).map(TestRecord::offset).toList();
    }

    synchronized int runningCount() {
        return running.size();
    }

    private synchronized CompletableFuture<Void> take(PartitionId partition, long offset) {
        TestRecord match = running.keySet().stream()
                .filter(r -> r.partition().equals(partition) && r.offset() == offset)
                .findFirst()
                .orElseThrow(() -> new AssertionError(partition + "@" + offset + " is not running"));
        return running.remove(match);
    }
}
