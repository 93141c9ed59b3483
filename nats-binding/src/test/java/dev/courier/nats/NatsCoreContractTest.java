package dev.courier.nats;

import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.CourierContractSuite;

/** The contract suite on core NATS ({@code courier.nats.mode=core}): at-most-once, so fewer cases apply. */
class NatsCoreContractTest extends CourierContractSuite {

    static final NatsFixture BROKER = NatsFixture.core();

    @Override
    protected BrokerFixture fixture() {
        return BROKER;
    }
}
