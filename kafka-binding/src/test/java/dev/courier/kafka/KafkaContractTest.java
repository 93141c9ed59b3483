package dev.courier.kafka;

import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.BrokerLocator;
import dev.courier.testkit.CourierContractSuite;

import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import java.util.Map;

/** The whole contract suite on a real Kafka broker (the embedded KRaft broker unless COURIER_TEST_KAFKA_URL is set). */
@Execution(ExecutionMode.CONCURRENT)
class KafkaContractTest extends CourierContractSuite {

    static final BrokerFixture KAFKA = BrokerLocator.kafka()
            .config(Map.of("courier.kafka.commit.interval", "100ms"))
            .locateShared();

    @Override
    protected BrokerFixture fixture() {
        return KAFKA;
    }
}
