package dev.courier.testkit;

import dev.courier.Capability;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a contract case only on bindings whose {@link dev.courier.Capabilities} declare every
 * listed capability; on the others the case is reported as disabled with the reason "the
 * &lt;binding&gt; binding does not declare X". On a {@code @Nested} class it applies to all its
 * cases. Works inside a {@link CourierContractSuite}, which knows the binding under test.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
@ExtendWith(CapabilityCondition.class)
public @interface RequiresCapability {

    Capability[] value();
}
