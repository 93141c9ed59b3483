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
    @DisplayName("on mem:// three orders complete, two are cancelled (one compensated), one is dead-lettered and the duplicate is skipped by the idempotency layer")
    void runsOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        SagaSample.Summary s = SagaSample.run(CourierConfig.builder().withoutEnvironment().url("mem://saga-test").build(),
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String timeline = buf.toString(StandardCharsets.UTF_8);
        assertThat(s).as(timeline).isEqualTo(EXPECTED);
        assertThat(s.allSettled()).isTrue();
        assertThat(timeline)
                // the reliability layer, as its listener reports it
                .contains("duplicate o-1 on 'orders' skipped for inventory: key 'inventory:order:o-1' already processed")
                .containsPattern("attempt 1 of o-2 on 'inventory' failed in payment \\(GatewayTimeoutException\\); retrying in process in \\d+ ms")
                .containsPattern("attempt 2 of o-2 on 'inventory' failed in payment \\(GatewayTimeoutException\\); retrying in process in \\d+ ms")
                .contains("o-6 on 'orders' in inventory dead-lettered to 'orders.inventory.dlq': non-retryable failure: "
                        + "InvalidOrderException: quantity must be at least 1, was -2")
                // the services
                .contains("charged bob $45.00 for o-2 (try 3)")
                .contains("released 1 x desk for o-3")
                // the failure headers, as operations read them
                .contains("dead letter o-6 from 'orders' (group inventory, 1 attempt), exception InvalidOrderException, "
                        + "reason: non-retryable failure: InvalidOrderException: quantity must be at least 1, was -2")
                // DeadLetters.list at the end: the dead letter is still pending for a redrive
                .contains("dead letters pending in orders.inventory.dlq: 1 (DeadLetters.list")
                .containsPattern("\\n  o-6  orders/inventory, 1 attempt\\(s\\), non-retryable failure: InvalidOrderException")
                .contains("summary: 6 orders placed, 3 completed, 2 cancelled, 1 dead-lettered, 1 duplicate ignored, "
                        + "2 payment retries, 5 notifications");
        // the layer stopped the duplicate: the service's own check never had to
        assertThat(timeline).doesNotContain("already reserved; duplicate ignored").doesNotContain("attempt 3 of o-2");
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
