package dev.courier.samples.payments;

import dev.courier.CourierConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class PaymentsSampleTest {

    @Test
    @DisplayName("on mem:// a consumer crash loses no payment and applies none twice")
    void crashAndRestartOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PaymentsSample.Settings settings = PaymentsSample.Settings.defaults();
        PaymentsSample.Summary s = PaymentsSample.run(
                CourierConfig.builder().withoutEnvironment().url("mem://payments-test").build(), settings,
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String timeline = buf.toString(StandardCharsets.UTF_8);
        assertThat(s.published()).as(timeline).isEqualTo(300);
        assertThat(s.applied()).as("every payment applied once").isEqualTo(300);
        assertThat(s.balancesMatch()).as(timeline).isTrue();
        // the crash came mid-stream: the first consumer had applied some but not all payments
        assertThat(s.beforeCrash()).as(timeline).isBetween(120, 299);
        // handlers running at the crash applied their payment, lost the ack, and the redelivery was ignored
        assertThat(s.duplicatesIgnored()).as(timeline).isPositive();
        // on mem:// an acknowledgement is the commit: nothing settled before the crash comes back
        assertThat(s.redeliveredSettled()).as(timeline).isZero();
        assertThat(timeline).contains("CRASH after").contains("restarted in group 'ledger'")
                .contains("was already applied: redelivery ignored").contains("balances all match");
    }
}
