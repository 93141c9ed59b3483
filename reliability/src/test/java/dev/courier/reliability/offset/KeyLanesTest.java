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

    /** A key that counts how often it is hashed or compared. */
    private static final class Counted {
        static int hashes;
        static int compares;
        final String name;

        Counted(String name) {
            this.name = name;
        }

        @Override
        public int hashCode() {
            hashes++;
            return name.hashCode();
        }

        @Override
        public boolean equals(Object o) {
            compares++;
            return o instanceof Counted c && c.name.equals(name);
        }
    }

    @Test
    @DisplayName("a record admitted while no other is unfinished is neither hashed nor compared; a second one puts it in the table")
    void loneRecordIsNotHashed() {
        Counted.hashes = 0;
        Counted.compares = 0;
        KeyLanes lanes = new KeyLanes();
        RecordRing ring = new RecordRing(16, true);
        for (int i = 0; i < 100; i++) {
            long seq = ring.append(i, RecordRing.WAITING, null);
            assertThat(lanes.admit(ring, seq, new Counted("k" + (i % 3)))).isTrue();
            assertThat(lanes.activeKeys()).isEqualTo(1);
            ring.state(seq, RecordRing.DONE);
            assertThat(lanes.release(ring, seq)).isEqualTo(-1);
            ring.sweepDone();
            assertThat(lanes.activeKeys()).isZero();
        }
        assertThat(Counted.hashes).isZero();
        assertThat(Counted.compares).isZero();

        // a second unfinished record: both are hashed, the same key waits, another key runs
        long a = ring.append(100, RecordRing.WAITING, null);
        assertThat(lanes.admit(ring, a, new Counted("x"))).isTrue();
        long b = ring.append(101, RecordRing.WAITING, null);
        assertThat(lanes.admit(ring, b, new Counted("x"))).isFalse();
        long c = ring.append(102, RecordRing.WAITING, null);
        assertThat(lanes.admit(ring, c, new Counted("y"))).isTrue();
        assertThat(Counted.hashes).isEqualTo(3);
        assertThat(lanes.activeKeys()).isEqualTo(2);
        ring.state(a, RecordRing.DONE);
        assertThat(lanes.release(ring, a)).isEqualTo(b);
        ring.state(b, RecordRing.DONE);
        assertThat(lanes.release(ring, b)).isEqualTo(-1);
        ring.state(c, RecordRing.DONE);
        assertThat(lanes.release(ring, c)).isEqualTo(-1);
        assertThat(lanes.activeKeys()).isZero();
        // empty again: the next record is lone once more
        int before = Counted.hashes;
        long d = ring.append(103, RecordRing.WAITING, null);
        assertThat(lanes.admit(ring, d, new Counted("x"))).isTrue();
        assertThat(Counted.hashes).isEqualTo(before);
        // null keys share a lane, lone or not
        long e = ring.append(104, RecordRing.WAITING, null);
        KeyLanes nulls = new KeyLanes();
        assertThat(nulls.admit(ring, e, null)).isTrue();
        long f = ring.append(105, RecordRing.WAITING, null);
        assertThat(nulls.admit(ring, f, null)).isFalse();
        assertThat(nulls.release(ring, e)).isEqualTo(f);
    }

    private static long seq(RecordRing ring) {
        return ring.tail(); // offsets equal sequence numbers here
    }
}
