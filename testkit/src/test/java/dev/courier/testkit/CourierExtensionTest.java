package dev.courier.testkit;

import dev.courier.Courier;
import dev.courier.Message;
import dev.courier.Subscribe;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@CourierTest
class CourierExtensionTest {

    record OrderPlaced(String orderId, double amount) {
    }

    private Courier fromBeforeEach;

    @BeforeEach
    void setUp(Courier courier) {
        fromBeforeEach = courier;
    }

    @Test
    void injectsAnOpenCourierOnAFreshInMemoryBroker(Courier courier) {
        assertThat(courier.isClosed()).isFalse();
        assertThat(courier.url()).startsWith("mem://test-");
        assertThat(courier).as("the same Courier in @BeforeEach and in the test").isSameAs(fromBeforeEach);
    }

    @Test
    void recordsWhatWasPublished(Courier courier, PublishedMessages published) {
        courier.publisher().publish("orders", "o-1", new OrderPlaced("o-1", 10));
        courier.publisher().publish("orders", "o-2", new OrderPlaced("o-2", 20));
        courier.publisher().publish("audit", "checked out");

        List<Message> orders = published.awaitPublished("orders", 2);
        assertThat(orders).extracting(Message::key).containsExactlyInAnyOrder("o-1", "o-2");
        assertThat(published.payloads("orders", OrderPlaced.class)).containsExactlyInAnyOrder(
                new OrderPlaced("o-1", 10), new OrderPlaced("o-2", 20));
        published.awaitPublished("audit", 1);
        assertThat(published.all()).hasSize(3);
        assertThat(published.failed()).isEmpty();

        published.clear();
        assertThat(published.all()).isEmpty();
    }

    @Test
    void theCourierWorksEndToEnd(Courier courier) {
        List<String> seen = new CopyOnWriteArrayList<>();
        courier.subscribe(Subscribe.to("greetings").group("g"), d -> seen.add(d.payload(String.class)));
        courier.publisher().publish("greetings", "hello");
        Await.await().until("the greeting is handled", () -> seen.contains("hello"), () -> seen);
    }

    @Test
    void awaitPublishedFailsWithWhatItSaw(PublishedMessages published) {
        published.awaitAtMost(java.time.Duration.ofMillis(100));
        assertThatThrownBy(() -> published.awaitPublished("orders", 1))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("1 message(s) published to 'orders'")
                .hasMessageContaining("0 published to 'orders'");
    }

    @Nested
    class EachTestGetsItsOwnBroker {

        private static final List<String> URLS = new CopyOnWriteArrayList<>();

        @Test
        void first(Courier courier) {
            check(courier);
        }

        @Test
        void second(Courier courier) {
            check(courier);
        }

        private void check(Courier courier) {
            assertThat(URLS).doesNotContain(courier.url());
            URLS.add(courier.url());
            // a broker of its own: nothing another test published is there
            courier.publisher().publish("shared-name", "from " + courier.url()).toCompletableFuture().join();
            List<String> seen = new CopyOnWriteArrayList<>();
            courier.subscribe(Subscribe.to("shared-name").group("reader"), d -> seen.add(d.payload(String.class)));
            Await.await().until("own message seen", () -> !seen.isEmpty(), () -> seen);
            assertThat(seen).containsExactly("from " + courier.url());
        }
    }

    @Test
    @CourierTest(config = "courier.publish.timeout=7s")
    void takesSettingsFromTheAnnotation(Courier courier) {
        assertThat(courier.config().publishTimeout()).hasSeconds(7);
    }
}
