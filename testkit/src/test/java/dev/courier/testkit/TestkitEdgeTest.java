package dev.courier.testkit;

import dev.courier.Message;
import dev.courier.testkit.kafka.EmbeddedKafka;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The mock publisher refuses a batch as the Courier does; an embedded broker never takes another broker on its port for itself. */
class TestkitEdgeTest {

    /** As the Courier's publisher: a batch with a null element throws and records nothing of the batch. */
    @Test
    void mockPublishAllWithANullElementPublishesNothing() {
        MockPublisher publisher = new MockPublisher();
        Message first = publisher.message("t", "a").build();
        List<Message> batch = Arrays.asList(first, null);

        assertThatThrownBy(() -> publisher.publishAll(batch)).isInstanceOf(NullPointerException.class);
        assertThat(publisher.history()).as("the real publisher publishes nothing of a batch with a null element").isEmpty();
    }

    /** A fixed port another Kafka broker already listens on fails the start with "port in use", not a start that talks to the other broker. */
    @Test
    void startOnAPortTakenByAnotherKafkaFails() throws Exception {
        try (EmbeddedKafka first = EmbeddedKafka.builder().partitions(1).build().start()) {
            int controllerPort;
            try (ServerSocket s = new ServerSocket(0)) {
                controllerPort = s.getLocalPort();
            }
            try (EmbeddedKafka second = EmbeddedKafka.builder().port(first.port()).controllerPort(controllerPort)
                    .startupTimeout(Duration.ofSeconds(60)).build()) {
                Throwable failure = null;
                try {
                    second.start();
                } catch (IllegalStateException e) {
                    failure = e;
                }
                if (failure == null) {
                    // it claimed to be ready: show that its own process is not the one answering
                    Await.atMost(Duration.ofSeconds(60)).until("the second broker's own process to end",
                            () -> !second.isRunning(), second::toString);
                    throw new AssertionError("start() returned as if the broker were ready, but its process died; its log:\n"
                            + second.logTail(15));
                }
                assertThat(failure).hasMessageContaining("port in use");
            }
        }
    }
}
