package dev.courier.nats;

import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.CourierContractSuite;

/** The contract suite on JetStream, the default mode: persistent, at-least-once. */
class NatsJetStreamContractTest extends CourierContractSuite {

    static final NatsFixture BROKER = NatsFixture.jetStream();

    @Override
    protected BrokerFixture fixture() {
        return BROKER;
    }
}
