package dev.courier.testkit;

import dev.courier.Capability;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The contract on the in-memory broker, which declares every capability but persistence: every case
 * runs here. The cases run concurrently on one shared broker, which also checks that they do not
 * interfere with each other.
 */
@DisplayName("mem:// binding contract")
@Execution(ExecutionMode.CONCURRENT)
class MemoryContractTest extends CourierContractSuite {

    private static final MemoryFixture BROKER = new MemoryFixture();

    @Override
    protected BrokerFixture fixture() {
        return BROKER;
    }

    @AfterAll
    static void stop() {
        BROKER.close();
    }

    @Test
    @DisplayName("mem declares every capability except PERSISTENCE, so no case of the suite is disabled")
    void everyCaseRuns() {
        for (Capability c : Capability.values()) {
            assertThat(capabilities().supports(c)).as(c.name()).isEqualTo(c != Capability.PERSISTENCE);
        }
    }
}
