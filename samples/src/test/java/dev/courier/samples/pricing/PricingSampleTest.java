package dev.courier.samples.pricing;

import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class PricingSampleTest {

    @Test
    @DisplayName("on mem:// two quotes are answered, an unknown product fails, a slow quote times out and no responder is detected")
    void runsOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PricingSample.Summary s = PricingSample.run(CourierConfig.builder().withoutEnvironment().url("mem://pricing-test").build(),
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String timeline = buf.toString(StandardCharsets.UTF_8);
        assertThat(s).as(timeline).isEqualTo(new PricingSample.Summary(2, 1, 1, "NoResponderException", 1));
        assertThat(timeline)
                .contains("got 10 x widget for $25.00")
                .contains("got 1 x gadget for $12.00")
                .containsPattern("RequestFailedException: .*no price for product 'sprocket'")
                .contains("RequestTimeoutException");
    }
}
