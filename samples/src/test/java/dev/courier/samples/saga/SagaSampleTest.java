package dev.courier.samples.saga;

import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class SagaSampleTest {

    /** What the fixed scenario must end with, on every broker. */
    static final SagaSample.Summary EXPECTED = new SagaSample.Summary(6, 3, 2, 1, 1, 2, 5,
            Map.of("book", 7, "chair", 3, "desk", 1, "lamp", 2),
            Map.of("alice", 7_000L, "bob", 5_500L, "carol", 10_000L, "dave", 10_000L, "erin", 8_500L));

    @Test
    @DisplayName("on mem:// three orders complete, two are compensated, one is dead-lettered and the duplicate changes stock once")
    void runsOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        SagaSample.Summary s = SagaSample.run(CourierConfig.builder().withoutEnvironment().url("mem://saga-test").build(),
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String timeline = buf.toString(StandardCharsets.UTF_8);
        assertThat(s).as(timeline).isEqualTo(EXPECTED);
        assertThat(s.allSettled()).isTrue();
        assertThat(timeline)
                .contains("duplicate reservation for o-1 ignored")
                .contains("gateway timeout charging o-2 (attempt 2 of 5)")
                .contains("released 1 x desk for o-3")
                .containsPattern("dead letter o-6 .*reason: undecodable payload")
                .contains("summary: 6 orders placed, 3 completed, 2 compensated, 1 dead-lettered, 1 duplicate ignored");
    }

    @Test
    @DisplayName("a saga that cannot finish in time fails with the stuck orders named")
    void timesOut() {
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url("mem://saga-timeout-test")
                .set(SagaSample.TIMEOUT, "1ms").build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SagaSample.run(config,
                        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)))
                .isInstanceOf(SagaSample.SagaTimeoutException.class)
                .hasMessageContaining("not every order reached a final state");
    }
}
