package dev.courier.rabbitmq;

import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.CourierContractSuite;
import org.junit.jupiter.api.AfterAll;

/** The Courier contract on the real RabbitMQ (COURIER_TEST_RABBITMQ_URL or 127.0.0.1:5672). */
class RabbitMqContractTest extends CourierContractSuite {

    @Override
    protected BrokerFixture fixture() {
        return RabbitBroker.FIXTURE;
    }

    @AfterAll
    static void deleteQueuesAndExchanges() {
        RabbitBroker.deleteAll("ct.");
    }
}
