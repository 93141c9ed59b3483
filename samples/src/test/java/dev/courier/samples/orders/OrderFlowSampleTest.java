package dev.courier.samples.orders;

import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class OrderFlowSampleTest {

    @Test
    @DisplayName("on mem:// four orders are reserved, the poisoned one is dead-lettered and the status query is answered")
    void runsOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        OrderFlowSample.Summary s = OrderFlowSample.run(CourierConfig.ofUrl("mem://sample-test"),
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertThat(s).isEqualTo(new OrderFlowSample.Summary(5, 4, 1, "RESERVED"));
        assertThat(buf.toString(StandardCharsets.UTF_8))
                .contains("dead letter o-3")
                .contains("status of o-1 is RESERVED")
                .contains("summary: 5 published, 4 reserved, 1 dead-lettered");
    }
}
