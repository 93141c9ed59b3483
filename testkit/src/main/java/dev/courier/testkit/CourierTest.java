package dev.courier.testkit;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives each test of the class an isolated {@link dev.courier.Courier} on a fresh in-memory broker
 * ({@code mem://test-<uuid>}) and a {@link PublishedMessages} recorder of what it published, as
 * parameters of the test or of its {@code @BeforeEach} method. Both are closed after each test.
 *
 * <pre>{@code
 * @CourierTest
 * class CheckoutTest {
 *     @Test
 *     void publishesOrderPlaced(Courier courier, PublishedMessages published) {
 *         new Checkout(courier.publisher()).placeOrder("o-1");
 *         assertThat(published.awaitPublished("orders", 1).get(0).key()).isEqualTo("o-1");
 *     }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(CourierExtension.class)
public @interface CourierTest {

    /** Extra Courier settings as {@code key=value}, e.g. {@code courier.codec.trusted-packages=com.acme}. */
    String[] config() default {};
}
