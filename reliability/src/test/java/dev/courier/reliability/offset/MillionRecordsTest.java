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
        List<Runnable> handlers = new ArrayList<>(RECORDS);
        var coordinator = OffsetCommitCoordinator.<Integer>builder(
                        index -> {
                            finished[index] = true;
                            return CompletableFuture.completedFuture(null);
                        },
                        (record, cause) -> {
                            throw new AssertionError("no record may fail", cause);
                        })
                .ordering(OrderingMode.UNORDERED)
                .maxConcurrency(RECORDS)
                .maxInFlight(RECORDS)
                .executor(handlers::add)
                .build();

        // Every third offset only: the gaps must not pin the watermark.
        for (int i = 0; i < RECORDS; i++) {
            coordinator.submit(PARTITION, 3L * i, null, i);
        }
        assertThat(coordinator.heldRecords()).isEqualTo(RECORDS);
        assertThat(handlers).hasSize(RECORDS);

        PartitionTrack<Integer> track = coordinator.trackOf(PARTITION);
        assertThat(track.capacity()).isBetween(RECORDS, 2 * RECORDS);
        assertThat(track.storage()).extracting(array -> array.getClass().getSimpleName())
                .as("per-record data is parallel arrays: offsets, states, payload references")
                .containsExactly("long[]", "byte[]", "Object[]");

        // Run (and so finish) the handlers in random order; at checkpoints the watermark must be the
        // offset of the first unfinished record.
        Collections.shuffle(handlers, new Random(20240611L));
        int firstUnfinished = 0;
        for (int i = 0; i < RECORDS; i++) {
            handlers.set(i, null).run();
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
        assertThat(track.capacity()).as("the ring gives its memory back once drained").isLessThanOrEqualTo(64);
    }
}
