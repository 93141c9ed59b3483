package dev.courier.nats;

import io.nats.client.Message;
import io.nats.client.impl.NatsJetStreamMetaData;
import io.nats.client.impl.NatsMessage;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** What a JetStream delivery does when it settles, checked without a server. */
@DisplayName("NatsDelivery")
class NatsDeliveryTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ack", "nak", "nakWithDelay", "term"})
    @DisplayName("lets go of the message before the server hears of the settlement")
    void releasesBeforeTheServerCall(String settlement) {
        List<String> events = new CopyOnWriteArrayList<>();
        NatsDelivery d = NatsDelivery.jetStream(jetStreamMessage(events), "orders", x -> events.add("released"));

        switch (settlement) {
            case "ack" -> d.ack();
            case "nak" -> d.nack(Duration.ZERO);
            case "nakWithDelay" -> d.nack(Duration.ofSeconds(1));
            default -> d.reject();
        }

        // a nak without delay can bring the message straight back: by then the subscription must no longer
        // hold this delivery, or it takes the redelivery for a duplicate and leaves it to the ack wait
        assertThat(events).containsExactly("released", "server " + settlement);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ack", "nak", "nakWithDelay", "term"})
    @DisplayName("sends no in-progress ack once settled, also when the two race: a late one would restart the ack wait")
    void noInProgressAfterTheSettlement(String settlement) throws InterruptedException {
        for (int round = 0; round < 200; round++) {
            List<String> events = new CopyOnWriteArrayList<>();
            NatsDelivery d = NatsDelivery.jetStream(jetStreamMessage(events), "orders", x -> { });
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            Thread timer = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 50; i++) {
                    d.inProgress();
                }
            });
            timer.start();
            go.countDown();
            switch (settlement) {
                case "ack" -> d.ack();
                case "nak" -> d.nack(Duration.ZERO);
                case "nakWithDelay" -> d.nack(Duration.ofSeconds(1));
                default -> d.reject();
            }
            timer.join();
            d.inProgress();
            int settled = events.indexOf("server " + settlement);
            assertThat(settled).as("round %d: %s", round, events).isNotNegative();
            assertThat(events.subList(settled, events.size())).as("round %d: what followed the settlement", round)
                    .containsExactly("server " + settlement);
        }
    }

    /** A JetStream message whose settlements (and in-progress acks) are recorded instead of sent. */
    private static Message jetStreamMessage(List<String> events) {
        NatsMessage plain = new NatsMessage("orders", "$JS.ACK.ORDERS.g.1.7.7.1700000000000000000.0",
                "payload".getBytes(StandardCharsets.UTF_8)) {
            @Override
            public boolean isJetStream() {
                return true; // what jnats' own JetStream message says; its metadata parses the reply subject
            }
        };
        NatsJetStreamMetaData meta = new NatsJetStreamMetaData(plain);
        return (Message) Proxy.newProxyInstance(Message.class.getClassLoader(), new Class<?>[] {Message.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "ack", "nak", "nakWithDelay", "term", "inProgress" -> {
                        events.add("server " + method.getName());
                        yield null;
                    }
                    case "isJetStream" -> true;
                    case "metaData" -> meta;
                    default -> {
                        try {
                            yield method.invoke(plain, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }
                });
    }
}
