package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("KeyLanes")
class KeyLanesTest {

    /** A key whose hash the test chooses, so that many keys collide. */
    private record Colliding(int id, int hash) {
        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Colliding c && c.id == id;
        }
    }

    @Test
    @DisplayName("random admissions and releases match a model of per-key queues, with colliding hashes, growth and shrinking")
    void matchesModel() {
        Random random = new Random(424242);
        for (int trial = 0; trial < 20; trial++) {
            RecordRing ring = new RecordRing(8, true);
            KeyLanes lanes = new KeyLanes();
            Map<Object, Deque<Long>> model = new HashMap<>();
            List<Long> heads = new ArrayList<>(); // records at the head of their lane (runnable)
            Map<Long, Object> keyOf = new HashMap<>();
            int keys = 1 + random.nextInt(trial < 10 ? 400 : 5_000);
            for (int step = 0; step < 20_000; step++) {
                boolean admit = heads.isEmpty() || random.nextInt(100) < (step < 10_000 ? 60 : 35);
                if (admit) {
                    int k = random.nextInt(keys + 1);
                    Object key = k == keys ? null : switch (k % 3) {
                        case 0 -> "key-" + k;
                        case 1 -> new Colliding(k, k % 7);   // many share a hash
                        default -> (long) k;
                    };
                    long seq = ring.append(seq(ring), RecordRing.WAITING, null);
                    boolean runnable = lanes.admit(ring, seq, key);
                    Deque<Long> queue = model.computeIfAbsent(key == null ? "<null>" : key, x -> new ArrayDeque<>());
                    assertThat(runnable).as("step %d: %s runnable iff its key had no unfinished record", step, key)
                            .isEqualTo(queue.isEmpty());
                    queue.addLast(seq);
                    keyOf.put(seq, key == null ? "<null>" : key);
                    if (runnable) {
                        heads.add(seq);
                    }
                } else {
                    long seq = heads.remove(random.nextInt(heads.size()));
                    Object modelKey = keyOf.remove(seq);
                    Deque<Long> queue = model.get(modelKey);
                    assertThat(queue.pollFirst()).isEqualTo(seq);
                    long next = lanes.release(ring, seq);
                    ring.state(seq, RecordRing.DONE);
                    Long expected = queue.peekFirst();
                    assertThat(next).as("step %d: the next record of %s", step, modelKey).isEqualTo(expected == null ? -1 : expected);
                    if (expected == null) {
                        model.remove(modelKey);
                    } else {
                        heads.add(expected);
                    }
                    ring.sweepDone();
                }
                assertThat(lanes.activeKeys()).isEqualTo(model.size());
            }
            // finish everything: the table gives its memory back
            while (!heads.isEmpty()) {
                long seq = heads.remove(heads.size() - 1);
                long next = lanes.release(ring, seq);
                ring.state(seq, RecordRing.DONE);
                Object modelKey = keyOf.remove(seq);
                model.get(modelKey).pollFirst();
                if (next >= 0) {
                    heads.add(next);
                } else {
                    assertThat(model.get(modelKey)).isEmpty();
                    model.remove(modelKey);
                }
            }
            ring.sweepDone();
            assertThat(lanes.activeKeys()).isZero();
            assertThat(lanes.capacity()).isLessThanOrEqualTo(KeyLanes.KEEP_CAPACITY);
            assertThat(Objects.requireNonNull(model)).isEmpty();
        }
    }

    private static long seq(RecordRing ring) {
        return ring.tail(); // offsets equal sequence numbers here
    }
}
