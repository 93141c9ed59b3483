package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("A million held records")
class MillionRecordsTest {

    private static final PartitionId PARTITION = PartitionId.of("bulk", 0);
    private static final int RECORDS = 1_000_000;

    @Test
    @DisplayName("live in primitive arrays, finish in random order and leave the watermark at last offset + 1")
    void millionRecordsInRandomOrder() {
        boolean[] finished = new boolean[RECORDS];
        // Asynchronous handlers: every record is started and stays running until the test completes its stage.
        List<CompletableFuture<Void>> stages = new ArrayList<>(Collections.nCopies(RECORDS, null));
        var executor = new ManualExecutor();
        var coordinator = OffsetCommitCoordinator.<Integer>builder(
                        index -> {
                            CompletableFuture<Void> stage = new CompletableFuture<>();
                            stage.thenRun(() -> finished[index] = true);
                            stages.set(index, stage);
                            return stage;
                        },
                        (record, cause) -> {
                            throw new AssertionError("no record may fail", cause);
                        })
                .ordering(OrderingMode.UNORDERED)
                .maxConcurrency(RECORDS)
                .maxInFlight(RECORDS)
                .executor(executor)
                .build();

        // Every third offset only: the gaps must not pin the watermark.
        for (int i = 0; i < RECORDS; i++) {
            coordinator.submit(PARTITION, 3L * i, null, i);
        }
        assertThat(coordinator.heldRecords()).isEqualTo(RECORDS);
        executor.runAll();
        assertThat(coordinator.runningHandlers()).as("every record started").isEqualTo(RECORDS);

        PartitionTrack<Integer> track = coordinator.trackOf(PARTITION);
        assertThat(track.capacity()).isBetween(RECORDS, 2 * RECORDS);
        assertThat(track.storage()).extracting(array -> array.getClass().getSimpleName())
                .as("per-record data is parallel arrays: offsets, states, payload references")
                .containsExactly("long[]", "byte[]", "Object[]");

        // Finish the handlers in random order; at checkpoints the watermark must be the offset of the
        // first unfinished record.
        List<Integer> order = new ArrayList<>(RECORDS);
        for (int i = 0; i < RECORDS; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(20240611L));
        int firstUnfinished = 0;
        for (int i = 0; i < RECORDS; i++) {
            stages.set(order.get(i), null).complete(null);
            executor.runAll();
            if ((i + 1) % 50_000 == 0 && i + 1 < RECORDS) {
                while (finished[firstUnfinished]) {
                    firstUnfinished++;
                }
                PartitionStats stats = coordinator.stats(PARTITION);
                assertThat(stats.committableOffset()).isEqualTo(3L * firstUnfinished);
                assertThat(stats.held()).isEqualTo(RECORDS - firstUnfinished);
                assertThat(stats.running()).isEqualTo(RECORDS - (i + 1));
            }
        }

        assertThat(coordinator.committableOffsets()).isEqualTo(Map.of(PARTITION, 3L * (RECORDS - 1) + 1));
        assertThat(coordinator.heldRecords()).isZero();
        assertThat(coordinator.runningHandlers()).isZero();
        assertThat(track.capacity()).as("the ring gives its memory back once drained")
                .isLessThanOrEqualTo(PartitionTrack.KEEP_CAPACITY);
    }
}
