package dev.courier.testkit;

import dev.courier.Courier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

@CourierTest
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CourierExtensionLifecycleTest {

    private static final List<Courier> SEEN = new ArrayList<>();

    @Test
    @Order(1)
    void first(Courier courier) {
        SEEN.add(courier);
    }

    @Test
    @Order(2)
    void theCourierOfThePreviousTestWasClosed(Courier courier) {
        assertThat(SEEN).hasSize(1);
        assertThat(SEEN.get(0).isClosed()).isTrue();
        assertThat(courier).isNotSameAs(SEEN.get(0));
        SEEN.add(courier);
    }

    @AfterAll
    static void allClosed() {
        assertThat(SEEN).allMatch(Courier::isClosed);
    }
}
