package dev.courier.testkit;

import java.util.UUID;

/**
 * The suite on {@code limited://}; run by {@link CapabilityConditionTest} through the JUnit
 * launcher, not by the build directly (its name does not end in Test).
 */
class LimitedBindingContract extends CourierContractSuite {

    static final BrokerFixture BROKER = new BrokerFixture() {
        private final String url = "limited://limited-" + UUID.randomUUID();

        @Override
        public String name() {
            return "limited";
        }

        @Override
        public String url() {
            return url;
        }
    };

    @Override
    protected BrokerFixture fixture() {
        return BROKER;
    }
}
