package dev.courier.reliability.offset;

import java.time.Duration;

/** Builds coordinators driven by a {@link ManualExecutor} and a {@link ScriptedProcessor}. */
class CoordinatorFixture {

    static final PartitionId P0 = PartitionId.of("orders", 0);
    static final PartitionId P1 = PartitionId.of("orders", 1);

    final ManualExecutor executor = new ManualExecutor();
    final ScriptedProcessor processor = new ScriptedProcessor();
    final RecordingFailures failures = new RecordingFailures();

    OffsetCommitCoordinator.Builder<TestRecord> builder(OrderingMode mode) {
        return OffsetCommitCoordinator.builder(processor, failures)
                .ordering(mode)
                .executor(executor)
                .maxConcurrency(100)
                .commitInterval(Duration.ZERO);
    }

    OffsetCommitCoordinator<TestRecord> coordinator(OrderingMode mode) {
        return builder(mode).build();
    }

    /** Submits a record and lets every handler that became runnable start. */
    void submit(OffsetCommitCoordinator<TestRecord> coordinator, PartitionId partition, long offset, String key) {
        coordinator.submit(partition, offset, key, new TestRecord(partition, offset, key));
        executor.runAll();
    }

    void submit(OffsetCommitCoordinator<TestRecord> coordinator, PartitionId partition, long... offsets) {
        for (long offset : offsets) {
            submit(coordinator, partition, offset, null);
        }
    }

    void succeed(PartitionId partition, long... offsets) {
        for (long offset : offsets) {
            processor.succeed(partition, offset);
            executor.runAll();
        }
    }

    void fail(PartitionId partition, long offset) {
        processor.fail(partition, offset);
        executor.runAll();
    }
}
