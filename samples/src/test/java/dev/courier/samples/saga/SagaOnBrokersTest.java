package dev.courier.samples.saga;

import dev.courier.CourierConfig;
import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.BrokerLocator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** The saga on every real broker, chosen by URL only; a missing broker fails with how to start it. */
class SagaOnBrokersTest {

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"kafka", "rabbitmq", "nats"})
    void runsOnEveryBroker(String broker) {
        BrokerFixture fixture = switch (broker) {
            case "kafka" -> BrokerLocator.kafka().locateShared();
            case "rabbitmq" -> BrokerLocator.rabbitmq().locateShared();
            default -> BrokerLocator.nats().locateShared();
        };
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        SagaSample.Summary s = SagaSample.run(
                CourierConfig.builder().withoutEnvironment().url(fixture.url()).setAll(fixture.config()).build(),
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertThat(s).as(buf.toString(StandardCharsets.UTF_8)).isEqualTo(SagaSampleTest.EXPECTED);
    }
}
