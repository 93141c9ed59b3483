package dev.courier.testkit;

import dev.courier.Capabilities;
import dev.courier.Capability;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Evaluates {@link RequiresCapability} against the capabilities of the binding under test. A case
 * the binding cannot run is disabled (reported, with the reason), never passed as an assumption.
 * The capabilities come from a real connection, so an unreachable broker fails the case instead of
 * skipping it.
 */
final class CapabilityCondition implements ExecutionCondition {

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        Optional<Method> method = context.getTestMethod();
        if (method.isEmpty()) {
            // classes are decided per case, once the suite instance (and so the binding) is known
            return ConditionEvaluationResult.enabled("decided per case");
        }
        Set<Capability> required = required(method.get(), context.getRequiredTestClass());
        if (required.isEmpty()) {
            return ConditionEvaluationResult.enabled("no capability required");
        }
        CourierContractSuite suite = context.getTestInstances()
                .flatMap(i -> i.findInstance(CourierContractSuite.class))
                .orElseThrow(() -> new ExtensionConfigurationException(
                        "@RequiresCapability works on cases of a CourierContractSuite; " + context.getRequiredTestClass().getName() + " is not one"));
        Capabilities capabilities = suite.capabilities();
        List<Capability> missing = new ArrayList<>();
        for (Capability c : required) {
            if (!capabilities.supports(c)) {
                missing.add(c);
            }
        }
        if (missing.isEmpty()) {
            return ConditionEvaluationResult.enabled("the " + capabilities.binding() + " binding declares " + required);
        }
        return ConditionEvaluationResult.disabled("the " + capabilities.binding() + " binding does not declare "
                + missing.stream().map(Enum::name).collect(Collectors.joining(", ")));
    }

    /** Capabilities named on the method, its class and the classes enclosing it. */
    static Set<Capability> required(Method method, Class<?> testClass) {
        EnumSet<Capability> out = EnumSet.noneOf(Capability.class);
        add(out, method.getAnnotation(RequiresCapability.class));
        for (Class<?> c = testClass; c != null; c = c.getEnclosingClass()) {
            add(out, c.getAnnotation(RequiresCapability.class));
        }
        return out;
    }

    private static void add(Set<Capability> out, RequiresCapability annotation) {
        if (annotation != null) {
            out.addAll(List.of(annotation.value()));
        }
    }
}
