package dev.courier.rabbitmq;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** RabbitMQ-specific routing, queue arguments, dead letters and connection errors, on the real broker. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RabbitMqRoutingTest {

    private static final Await AWAIT = Await.atMost(Duration.ofSeconds(20));
    /** This run's names: clean-up deletes only them, never those of a run going on elsewhere against the same broker. */
    private static final String RUN = "rt-" + UUID.randomUUID().toString().substring(0, 8) + ".";
    private final List<AutoCloseable> open = new ArrayList<>();
    private String prefix;

    @BeforeEach
    void names() {
        prefix = RUN + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll(RUN);
    }

    private Courier connect(Map<String, String> extra) {
        Courier c = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config()).setAll(extra)
                .url(RabbitBroker.FIXTURE.url()).build());
        open.add(c);
        return c;
    }

    private Courier connect() {
        return connect(Map.of());
    }

    private static String text(Message m) {
        return new String(m.payload(), StandardCharsets.UTF_8);
    }

    private static void publish(Courier c, Message m) {
        c.publisher().publish(m).toCompletableFuture().join();
    }

    @Test
    void topicPatternsSelectByKeyAndConsumersSeeTheKey() {
        Courier c = connect();
        String topic = prefix + ".orders";
        List<Message> eu = new CopyOnWriteArrayList<>();
        List<Message> all = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("eu").with(RabbitSubscribeOptions.bindingPatterns("orders.*.eu")), d -> eu.add(d.message()));
        c.subscribe(Subscribe.to(topic).group("all"), d -> all.add(d.message()));
        for (String key : List.of("orders.book.eu", "orders.book.us", "orders.book.x.eu", "orders.pen.eu")) {
            publish(c, c.publisher().message(topic, key).key(key).build());
        }
        publish(c, c.publisher().message(topic, "no key").build());

        AWAIT.until("the catch-all group has 5 messages", () -> all.size() >= 5, all::size);
        AWAIT.until("the eu group has 2 messages", () -> eu.size() >= 2, eu::size);
        Await.holdsFor(Duration.ofMillis(300), "nothing else reaches the eu group", () -> eu.size() == 2, eu::size);
        assertThat(eu).extracting(Message::key).containsExactlyInAnyOrder("orders.book.eu", "orders.pen.eu");
        assertThat(all).extracting(Message::key).contains("orders.book.us", "orders.book.x.eu", null);
    }

    @Test
    void fanoutExchangeReachesEveryQueueWhateverTheKey() {
        Courier c = connect();
        String topic = prefix + ".news";
        List<String> one = new CopyOnWriteArrayList<>();
        List<String> two = new CopyOnWriteArrayList<>();
        RabbitSubscribeOptions fanout = RabbitSubscribeOptions.exchangeType(RabbitSubscribeOptions.ExchangeType.FANOUT);
        c.subscribe(Subscribe.to(topic).with(fanout), d -> one.add(d.payload(String.class)));
        c.subscribe(Subscribe.to(topic).group("archive").with(fanout), d -> two.add(d.payload(String.class)));
        publish(c, c.publisher().message(topic, "a").key("x.y").build());
        publish(c, c.publisher().message(topic, "b").build());
        AWAIT.until("both receive both", () -> one.size() >= 2 && two.size() >= 2, () -> one + " " + two);
        assertThat(one).containsExactlyInAnyOrder("a", "b");
        assertThat(two).containsExactlyInAnyOrder("a", "b");
    }

    @Test
    void headersExchangeMatchesAllOrAny() {
        Courier c = connect();
        String topic = prefix + ".events";
        List<String> all = new CopyOnWriteArrayList<>();
        List<String> any = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("all").with(RabbitSubscribeOptions.headersMatchAll(Map.of("region", "eu", "tier", "gold"))),
                d -> all.add(d.payload(String.class)));
        c.subscribe(Subscribe.to(topic).group("any").with(RabbitSubscribeOptions.headersMatchAny(Map.of("region", "eu", "tier", "gold"))),
                d -> any.add(d.payload(String.class)));
        publish(c, c.publisher().message(topic, "eu-gold").header("region", "eu").header("tier", "gold").build());
        publish(c, c.publisher().message(topic, "eu-silver").header("region", "eu").header("tier", "silver").build());
        publish(c, c.publisher().message(topic, "us-silver").header("region", "us").header("tier", "silver").build());
        AWAIT.until("the any-group has 2", () -> any.size() >= 2, any::toString);
        Await.holdsFor(Duration.ofMillis(300), "no more arrive", () -> any.size() == 2 && all.size() <= 1, () -> all + " " + any);
        assertThat(all).containsExactly("eu-gold");
        assertThat(any).containsExactlyInAnyOrder("eu-gold", "eu-silver");
    }

    @Test
    void priorityQueueDeliversHigherPriorityFirst() {
        Courier c = connect();
        String topic = prefix + ".jobs";
        Subscribe spec = Subscribe.to(topic).group("workers").maxInFlight(1).with(RabbitSubscribeOptions.maxPriority(10));
        c.subscribe(spec, d -> { }).close(); // declares the queue; messages now wait in it
        for (int i = 0; i < 5; i++) {
            publish(c, c.publisher().message(topic, "low-" + i).header(RabbitHeaders.PRIORITY, "1").build());
        }
        publish(c, c.publisher().message(topic, "urgent").header(RabbitHeaders.PRIORITY, "9").build());
        List<String> order = new CopyOnWriteArrayList<>();
        c.subscribe(spec, d -> order.add(d.payload(String.class)));
        AWAIT.until("all 6 are handled", () -> order.size() >= 6, order::toString);
        assertThat(order.get(0)).isEqualTo("urgent");
    }

    @Test
    void queueTtlDropsMessagesNobodyTookInTime() throws Exception {
        Courier c = connect();
        String topic = prefix + ".quotes";
        Subscribe spec = Subscribe.to(topic).group("g").with(RabbitSubscribeOptions.messageTtl(Duration.ofMillis(200)));
        c.subscribe(spec, d -> { }).close();
        publish(c, c.publisher().message(topic, "stale").build());
        Thread.sleep(600);
        List<String> got = new CopyOnWriteArrayList<>();
        c.subscribe(spec, d -> got.add(d.payload(String.class)));
        publish(c, c.publisher().message(topic, "fresh").build());
        AWAIT.until("the fresh quote arrives", () -> got.contains("fresh"), got::toString);
        assertThat(got).containsExactly("fresh");
    }

    @Test
    void deadLettersAreKeptUntilSomeoneSubscribesToTheDeadLetterTopic() {
        Courier c = connect();
        String topic = prefix + ".pay";
        Subscribe spec = Subscribe.to(topic).group("billing").maxAttempts(2).redeliveryDelay(Duration.ofMillis(50));
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        c.subscribe(spec, d -> {
            attempts.add(d.attempt());
            throw new IllegalStateException("card declined");
        });
        Message original = c.publisher().message(topic, "p-1").key("customer-1").header("x-trace", "t-1").build();
        publish(c, original);
        AWAIT.until("both attempts ran", () -> attempts.size() >= 2, attempts::toString);

        // only now does anyone read the dead-letter topic, with a group of its own
        List<Message> dead = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(spec.deadLetterTopic()).group("ops"), d -> dead.add(d.message()));
        AWAIT.until("the dead letter is there", () -> !dead.isEmpty(), dead::size);
        Message m = dead.get(0);
        assertThat(attempts).containsExactly(1, 2);
        assertThat(m.id()).isEqualTo(original.id());
        assertThat(m.key()).isEqualTo("customer-1");
        assertThat(text(m)).isEqualTo(text(original));
        assertThat(m.header("x-trace")).isEqualTo("t-1");
        assertThat(m.header(HeaderNames.DLQ_REASON)).contains("card declined");
        assertThat(m.header(HeaderNames.DLQ_ORIGINAL_GROUP)).isEqualTo("billing");
        assertThat(m.header(HeaderNames.DLQ_ATTEMPTS)).isEqualTo("2");
        assertThat(m.header(HeaderNames.DLQ_POSITION)).startsWith("deliveryTag=");
        assertThat(m.headers().asMap()).doesNotContainKey(HeaderNames.ATTEMPT);
    }

    @Test
    void nackWithDelayWaitsInADelayQueueWithoutHoldingUpOthers() {
        Courier c = connect();
        String topic = prefix + ".retry";
        List<String> seen = new CopyOnWriteArrayList<>();
        long[] firstAt = new long[1];
        long[] secondAt = new long[1];
        c.subscribe(Subscribe.to(topic).group("g"), d -> {
            String p = d.payload(String.class);
            seen.add(p + "#" + d.attempt());
            if (p.equals("slow") && d.attempt() == 1) {
                firstAt[0] = System.nanoTime();
                d.nack(Duration.ofMillis(700));
            } else if (p.equals("slow")) {
                secondAt[0] = System.nanoTime();
            }
        });
        publish(c, c.publisher().message(topic, "slow").build());
        publish(c, c.publisher().message(topic, "next").build());
        AWAIT.until("the slow one comes back", () -> seen.contains("slow#2"), seen::toString);
        assertThat(seen.indexOf("next#1")).as("the next message does not wait for the delay").isLessThan(seen.indexOf("slow#2"));
        assertThat(Duration.ofNanos(secondAt[0] - firstAt[0])).isGreaterThanOrEqualTo(Duration.ofMillis(650));
    }

    @Test
    void mandatoryPublishToATopicWithoutQueuesFailsAsUnroutable() {
        Courier c = connect();
        String topic = prefix + ".nowhere";
        Message m = c.publisher().message(topic, "x").header(RabbitHeaders.MANDATORY, "true").build();
        assertThatThrownBy(() -> c.publisher().publish(m).toCompletableFuture().join())
                .isInstanceOf(CompletionException.class).cause().isInstanceOf(UnroutableMessageException.class).hasMessageContaining(topic);
        // without the flag the same publish is confirmed (and dropped by the broker, as AMQP does)
        publish(c, c.publisher().message(topic, "y").build());
    }

    @Test
    void withoutProvisioningAMissingExchangeIsNamed() {
        Courier c = connect(Map.of(RabbitConfig.PROVISIONING, "false"));
        String topic = prefix + ".undeclared";
        assertThatThrownBy(() -> c.subscribe(Subscribe.to(topic).group("g"), d -> { }))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("exchange '" + topic + "' does not exist")
                .hasMessageContaining(RabbitConfig.PROVISIONING);
    }

    @Test
    void wrongCredentialsFailFastWithoutShowingThePassword() {
        String url = RabbitBroker.FIXTURE.url().replaceFirst("://[^@]*@", "://guest:wrong-secret@");
        long start = System.nanoTime();
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url(url).set("courier.connect.timeout", "5s").build()))
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("guest:****@")
                .hasMessageNotContaining("wrong-secret");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aPortWithoutBrokerFailsFast() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> Courier.connect(CourierConfig.builder().withoutEnvironment().url("amqp://guest:pw@127.0.0.1:1/")
                .set("courier.connect.timeout", "3s").build()))
                .isInstanceOf(BrokerUnavailableException.class).hasMessageContaining("127.0.0.1:1").hasMessageNotContaining(":pw@");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
    }

    @Test
    void deliveriesUnwrapToTheAmqpEnvelopeAndProperties() {
        Courier c = connect();
        String topic = prefix + ".native";
        List<Object> natives = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g"), d -> {
            natives.add(d.unwrap(com.rabbitmq.client.Envelope.class));
            natives.add(d.unwrap(com.rabbitmq.client.AMQP.BasicProperties.class));
            natives.add(d.metadata());
        });
        publish(c, c.publisher().message(topic, "n").key("k.1").build());
        AWAIT.until("handled", () -> natives.size() >= 3, natives::size);
        com.rabbitmq.client.Envelope env = (com.rabbitmq.client.Envelope) natives.get(0);
        assertThat(env.getExchange()).isEqualTo(topic);
        assertThat(env.getRoutingKey()).isEqualTo("k.1");
        assertThat(((com.rabbitmq.client.AMQP.BasicProperties) natives.get(1)).getDeliveryMode()).isEqualTo(2);
        assertThat(((dev.courier.DeliveryMetadata) natives.get(2)).deliveryTag()).isPresent();
    }

    @Test
    void pausedSubscriptionHoldsItsDeliveries() {
        Courier c = connect();
        String topic = prefix + ".paused";
        List<String> got = new CopyOnWriteArrayList<>();
        Subscription s = c.subscribe(Subscribe.to(topic).group("g"), d -> got.add(d.payload(String.class)));
        s.pause();
        publish(c, c.publisher().message(topic, "later").build());
        Await.holdsFor(Duration.ofMillis(300), "nothing while paused", got::isEmpty, got::toString);
        s.resume();
        AWAIT.until("delivered after resume", () -> got.contains("later"), got::toString);
    }

    @Test
    @DisplayName("a nack with a delay goes through the TTL delay queue and comes back with the attempt count one higher, after the delay")
    void delayedNackCarriesTheAttemptCount() {
        Courier c = connect();
        String topic = prefix + ".delayed";
        Duration delay = Duration.ofSeconds(1);
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        List<Long> times = new CopyOnWriteArrayList<>();
        List<String> ids = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g").maxAttempts(10), d -> {
            attempts.add(d.attempt());
            times.add(System.nanoTime());
            ids.add(d.message().id());
            if (d.attempt() < 3) {
                d.nack(delay);
            }
        });
        Message m = c.publisher().message(topic, "again").build();
        publish(c, m);
        AWAIT.until("three deliveries", () -> attempts.size() >= 3, attempts::toString);
        assertThat(attempts).containsExactly(1, 2, 3);
        assertThat(ids).containsOnly(m.id());
        assertThat(times.get(1) - times.get(0)).as("held for the delay").isGreaterThanOrEqualTo(delay.toNanos());
        assertThat(times.get(2) - times.get(1)).as("held for the delay").isGreaterThanOrEqualTo(delay.toNanos());
    }
}
