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

    @ParameterizedTest(name = "on {0}: same summary, retries in process, duplicate skipped, dead letter still pending")
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
        String timeline = buf.toString(StandardCharsets.UTF_8);
        assertThat(s).as(timeline).isEqualTo(SagaSampleTest.EXPECTED);
        // the reliability layer did the work, the same way on every broker
        assertThat(timeline)
                .contains("duplicate o-1 on 'orders' skipped for inventory: key 'inventory:order:o-1' already processed")
                .contains("attempt 2 of o-2 on 'inventory' failed in payment (GatewayTimeoutException); retrying in process")
                .contains("o-6 on 'orders' in inventory dead-lettered to 'orders.inventory.dlq'")
                .contains("dead letter o-6 from 'orders' (group inventory, 1 attempt), exception InvalidOrderException")
                .contains("dead letters pending in orders.inventory.dlq: 1 (DeadLetters.list")
                .doesNotContain("already reserved; duplicate ignored");
    }
}
