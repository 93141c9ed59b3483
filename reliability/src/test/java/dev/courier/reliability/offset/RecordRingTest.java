package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("RecordRing and LongDeque")
class RecordRingTest {

    @Test
    @DisplayName("sequence numbers keep finding their record while the ring grows and shrinks")
    void sequenceNumbersSurviveResizing() {
        RecordRing ring = new RecordRing(4, true);
        for (long offset = 100; offset < 140; offset++) {
            long seq = ring.append(offset, RecordRing.WAITING, "r" + offset);
            ring.link(seq, seq * 10);
        }
        assertThat(ring.capacity()).isEqualTo(64);
        for (long seq = 0; seq < 40; seq++) {
            assertThat(ring.offset(seq)).isEqualTo(100 + seq);
            assertThat(ring.item(seq)).isEqualTo("r" + (100 + seq));
            assertThat(ring.link(seq)).isEqualTo(seq * 10);
        }
        for (long seq = 0; seq < 35; seq++) {
            ring.state(seq, RecordRing.DONE);
        }
        assertThat(ring.sweepDone()).isEqualTo(35);
        assertThat(ring.capacity()).as("shrinks once at most a quarter full").isLessThan(64);
        assertThat(ring.head()).isEqualTo(35);
        for (long seq = 35; seq < 40; seq++) {
            assertThat(ring.offset(seq)).isEqualTo(100 + seq);
            assertThat(ring.link(seq)).isEqualTo(seq * 10);
        }
        assertThat(ring.storage()).extracting(array -> array.getClass().getSimpleName())
                .containsExactly("long[]", "byte[]", "Object[]", "long[]", "Object[]", "int[]");
    }

    @Test
    @DisplayName("the sweep stops at the first record that is not done")
    void sweepStopsAtGap() {
        RecordRing ring = new RecordRing(4, false);
        for (long offset = 0; offset < 5; offset++) {
            ring.append(offset, RecordRing.RUNNING, null);
        }
        ring.state(0, RecordRing.DONE);
        ring.state(2, RecordRing.DONE);
        ring.state(1, RecordRing.FAILED);
        assertThat(ring.sweepDone()).isEqualTo(1);
        assertThat(ring.offset(ring.head())).isEqualTo(1);
    }

    @Test
    @DisplayName("LongDeque keeps order across wrap-around and growth, with retries at the front")
    void longDequeOrder() {
        LongDeque deque = new LongDeque();
        for (long i = 0; i < 10; i++) {
            deque.addLast(i);
        }
        for (int i = 0; i < 5; i++) {
            deque.removeFirst();
        }
        for (long i = 10; i < 40; i++) {
            deque.addLast(i);
        }
        deque.addFirst(-1);
        assertThat(deque.size()).isEqualTo(36);
        assertThat(deque.removeFirst()).isEqualTo(-1);
        for (long expected = 5; expected < 40; expected++) {
            assertThat(deque.removeFirst()).isEqualTo(expected);
        }
        assertThat(deque.isEmpty()).isTrue();
    }
}
