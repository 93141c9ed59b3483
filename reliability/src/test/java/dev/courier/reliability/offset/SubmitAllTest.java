package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("OffsetCommitCoordinator.submitAll")
class SubmitAllTest extends CoordinatorFixture {

    private void submitAll(OffsetCommitCoordinator<TestRecord> c, PartitionId partition, List<TestRecord> records) {
        c.submitAll(partition, records, TestRecord::offset, TestRecord::key, r -> r);
        executor.runAll();
    }

    private static TestRecord rec(PartitionId partition, long offset, String key) {
        return new TestRecord(partition, offset, key);
    }

    @Test
    @DisplayName("keeps key order within the batch and runs different keys in parallel")
    void keyOrder() {
        var c = coordinator(OrderingMode.KEY);
        submitAll(c, P0, List.of(rec(P0, 0, "a"), rec(P0, 1, "b"), rec(P0, 2, "a"), rec(P0, 3, "c")));
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L, 3L);
        succeed(P0, 0);
        assertThat(processor.runningOffsets(P0)).containsExactly(1L, 3L, 2L);
    }

    @Test
    @DisplayName("commits only the finished prefix, as record-by-record submits do")
    void commitsPrefix() {
        var c = coordinator(OrderingMode.UNORDERED);
        submitAll(c, P0, List.of(rec(P0, 0, null), rec(P0, 1, null), rec(P0, 2, null)));
        succeed(P0, 1, 2);
        assertThat(c.committableOffsets()).isEmpty();
        succeed(P0, 0);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 3L));
        assertThat(c.heldRecords()).isZero();
    }

    @Test
    @DisplayName("counts the batch against the in-flight bound, so back-pressure pauses")
    void countsHeld() {
        var c = builder(OrderingMode.PARTITION).maxInFlight(3).build();
        submitAll(c, P0, List.of(rec(P0, 0, null), rec(P0, 1, null), rec(P0, 2, null)));
        assertThat(c.heldRecords()).isEqualTo(3);
        assertThat(c.partitionsToPause()).containsExactly(P0);
    }

    @Test
    @DisplayName("refuses an offset that does not increase, keeping the records before it")
    void refusesOffsetsOutOfOrder() {
        var c = coordinator(OrderingMode.UNORDERED);
        assertThatThrownBy(() -> submitAll(c, P0, List.of(rec(P0, 4, null), rec(P0, 5, null), rec(P0, 5, null))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be above the last submitted offset 5");
        executor.runAll();
        assertThat(processor.runningOffsets(P0)).containsExactly(4L, 5L);
        assertThat(c.heldRecords()).isEqualTo(2);
        assertThatThrownBy(() -> c.submitAll(P1, List.of(rec(P1, -1, null)), TestRecord::offset, TestRecord::key, r -> r))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offset must be between 0");
    }

    @Test
    @DisplayName("reads keys on the calling thread in KEY mode: a key function that throws keeps the records before it")
    void keyFunctionThatThrows() {
        var c = coordinator(OrderingMode.KEY);
        List<TestRecord> batch = List.of(rec(P0, 0, "a"), rec(P0, 1, "b"), rec(P0, 2, "bad"), rec(P0, 3, "c"));
        assertThatThrownBy(() -> c.submitAll(P0, batch, TestRecord::offset, r -> {
            if (r.key().equals("bad")) {
                throw new IllegalStateException("unreadable key at " + r.offset());
            }
            return r.key();
        }, r -> r)).isInstanceOf(IllegalStateException.class).hasMessage("unreadable key at 2");
        executor.runAll();
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L);
        assertThat(c.heldRecords()).isEqualTo(2);
        // the next poll may go on from the refused record
        submitAll(c, P0, List.of(rec(P0, 2, "a"), rec(P0, 3, "c")));
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L, 3L);
        succeed(P0, 0);
        assertThat(processor.runningOffsets(P0)).containsExactly(1L, 3L, 2L);
    }

    @Test
    @DisplayName("an empty batch changes nothing; a closed coordinator refuses batches")
    void emptyAndClosed() {
        var c = coordinator(OrderingMode.UNORDERED);
        submitAll(c, P0, List.of());
        assertThat(c.stats()).isEmpty();
        c.close(java.time.Duration.ZERO);
        assertThatThrownBy(() -> c.submitAll(P0, List.of(rec(P0, 0, null)), TestRecord::offset, TestRecord::key, r -> r))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    @DisplayName("admits a batch record by record: while part of it waits, the watermark is its first record not admitted")
    void partlyAdmittedBatchWatermark() {
        var c = builder(OrderingMode.KEY).maxConcurrency(1).build();
        submitAll(c, P0, List.of(rec(P0, 10, "a"), rec(P0, 12, "b"), rec(P0, 15, "a"), rec(P0, 16, "c")));
        assertThat(processor.startedOffsets(P0)).containsExactly(10L);
        assertThat(c.stats(P0).held()).isEqualTo(4);
        assertThat(c.stats(P0).queued()).isEqualTo(3);
        // 10 finishes; the loop that would admit 12 is queued, not run yet: 10 left the ring, 12 is not in it
        processor.succeed(P0, 10);
        assertThat(executor.pending()).isEqualTo(1);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 12L));
        assertThat(c.heldRecords()).isEqualTo(3);
        assertThat(c.stats(P0).held()).isEqualTo(3);
        executor.runAll();
        assertThat(processor.startedOffsets(P0)).containsExactly(10L, 12L);
        succeed(P0, 12, 15, 16);
        assertThat(processor.startedOffsets(P0)).containsExactly(10L, 12L, 15L, 16L);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 17L));
        assertThat(c.heldRecords()).isZero();
    }

    @Test
    @DisplayName("passes over records behind a blocked key and runs the ones after them, in every mode's order")
    void passesOverBlockedKeys() {
        var c = builder(OrderingMode.KEY).maxConcurrency(2).build();
        submitAll(c, P0, List.of(rec(P0, 0, "a"), rec(P0, 1, "a"), rec(P0, 2, "a"), rec(P0, 3, "b"), rec(P0, 4, "a"), rec(P0, 5, "c")));
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 3L);
        succeed(P0, 3);
        assertThat(processor.runningOffsets(P0)).containsExactly(0L, 5L);
        succeed(P0, 5, 0);
        assertThat(processor.runningOffsets(P0)).containsExactly(1L);
        succeed(P0, 1, 2, 4);
        assertThat(processor.startedOffsets(P0)).containsExactly(0L, 3L, 5L, 1L, 2L, 4L);
        assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 6L));

        var p = builder(OrderingMode.PARTITION).maxConcurrency(2).build();
        submitAll(p, P1, List.of(rec(P1, 0, "a"), rec(P1, 1, "b")));
        submitAll(p, P1, List.of(rec(P1, 2, "c")));
        assertThat(processor.runningOffsets(P1)).containsExactly(0L);
        succeed(P1, 0, 1);
        assertThat(processor.runningOffsets(P1)).containsExactly(2L);
        succeed(P1, 2);
        assertThat(p.committableOffsets()).isEqualTo(Map.of(P1, 3L));
        assertThat(p.heldRecords()).isZero();
    }

    @Test
    @DisplayName("revoking a partition whose batch is partly admitted commits its first unfinished record and holds nothing afterwards")
    void revokePartlyAdmittedBatch() {
        var c = builder(OrderingMode.UNORDERED).maxConcurrency(1).build();
        c.onPartitionsAssigned(List.of(P0));
        submitAll(c, P0, List.of(rec(P0, 20, null), rec(P0, 24, null), rec(P0, 25, null)));
        submitAll(c, P0, List.of(rec(P0, 26, null)));
        processor.succeed(P0, 20);
        assertThat(c.heldRecords()).isEqualTo(3);
        assertThat(c.onPartitionsRevoked(List.of(P0), java.time.Duration.ZERO)).isEqualTo(Map.of(P0, 24L));
        executor.runAll();
        assertThat(processor.startedOffsets(P0)).containsExactly(20L);
        assertThat(c.heldRecords()).isZero();
        assertThat(c.stats()).isEmpty();
    }
}
