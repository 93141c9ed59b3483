package dev.courier.testkit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the suite on a binding that declares little and checks which cases it disables, and why. */
class CapabilityConditionTest {

    private static final Map<String, String> SKIPPED = new ConcurrentHashMap<>();
    private static final Map<String, TestExecutionResult> FINISHED = new ConcurrentHashMap<>();

    @BeforeAll
    static void runTheSuiteOnTheLimitedBinding() {
        List<Class<?>> outer = List.of(LimitedBindingContract.class);
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.Groups.class),
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.Redelivery.class),
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.DeadLetters.class),
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.RequestReply.class),
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.AsyncHandlers.class),
                        DiscoverySelectors.selectNestedClass(outer, CourierContractSuite.BindingDeclaration.class),
                        DiscoverySelectors.selectNestedMethod(outer, CourierContractSuite.OrderingAndFlow.class, "perKeyOrderUnderConcurrency"),
                        DiscoverySelectors.selectNestedMethod(outer, CourierContractSuite.PublishAndSubscribe.class, "deliversTheEnvelopeUnchanged"),
                        DiscoverySelectors.selectNestedMethod(outer, CourierContractSuite.Lifecycle.class, "closeDrainsInFlightHandlers"))
                .build();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                SKIPPED.put(name(id), reason);
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (id.isTest()) {
                    FINISHED.put(name(id), result);
                }
            }
        });
    }

    private static String name(TestIdentifier id) {
        String legacy = id.getLegacyReportingName();
        int paren = legacy.indexOf('(');
        return paren < 0 ? legacy : legacy.substring(0, paren);
    }

    @Test
    void casesNeedingUndeclaredCapabilitiesAreDisabledWithTheReason() {
        assertThat(SKIPPED).containsEntry("perKeyOrderUnderConcurrency", "the limited binding does not declare PER_KEY_ORDER");
        assertThat(SKIPPED).containsEntry("typedRequestReply", "the limited binding does not declare REQUEST_REPLY");
        assertThat(SKIPPED).containsEntry("lateGroupReceivesEarlierMessages",
                "the limited binding does not declare LATE_GROUP_RECEIVES_EARLIER");
        assertThat(SKIPPED).as("a class-level requirement and a method-level one together")
                .containsEntry("exhaustedAttemptsGoToTheDeadLetterTopic", "the limited binding does not declare REDELIVERY, DEAD_LETTER");
        assertThat(SKIPPED).containsKeys("nackRedeliversWithAttemptCount", "replayFromEarliest", "explicitSettlementFromAnotherThread");
    }

    @Test
    void casesTheBindingCanRunRunAndPass() {
        assertThat(FINISHED).containsKeys("deliversTheEnvelopeUnchanged", "competingConsumersShareTheLoad", "broadcastReachesEverySubscriber",
                "closeDrainsInFlightHandlers", "laterCompletionAcks", "capabilitiesAreDeclared");
        assertThat(FINISHED).doesNotContainKeys("perKeyOrderUnderConcurrency", "typedRequestReply");
        FINISHED.forEach((name, result) -> assertThat(result.getStatus()).as(name + ": " + result.getThrowable().orElse(null))
                .isEqualTo(TestExecutionResult.Status.SUCCESSFUL));
        assertThat(SKIPPED.keySet()).as("skipped and run cases are disjoint").doesNotContainAnyElementsOf(FINISHED.keySet());
    }
}
