package dev.courier.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Delivery;
import dev.courier.NoResponderException;
import dev.courier.PublishException;
import dev.courier.CourierListener;
import dev.courier.Subscribe;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the broker or an operator does to a running binding: channels closed by the broker,
 * exchanges deleted while in use, queues declared by others with options of their own, users
 * without configure permission.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RabbitMqBrokerActionsTest {

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
            try {
                open.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
    }

    @AfterAll
    static void cleanUp() {
        RabbitBroker.deleteAll(RUN);
    }

    private Courier connect(Map<String, String> extra) {
        return connect(extra, CourierListener.NONE);
    }

    private Courier connect(Map<String, String> extra, CourierListener listener) {
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config()).setAll(extra)
                .url(RabbitBroker.FIXTURE.url()).build()).listener(listener).connect();
        open.add(c);
        return c;
    }

    private static Object field(Object o, String name) throws Exception {
        for (Class<?> k = o.getClass(); k != null; k = k.getSuperclass()) {
            try {
                Field f = k.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) {
                // up
            }
        }
        throw new NoSuchFieldException(name);
    }

    private static RabbitBinding binding(Courier c) throws Exception {
        return (RabbitBinding) field(field(c, "core"), "binding");
    }

    private static boolean publishes(Courier c, String topic) {
        try {
            c.publisher().publish(c.publisher().message(topic, "probe").build()).toCompletableFuture().get(5, TimeUnit.SECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    // ------------------------------------------------------------------ consumer channel closed by the broker

    @Test
    @DisplayName("a consumer channel closed by the broker with a channel-level error (as consumer_timeout does: 406) does not silently end the subscription")
    void consumerChannelClosedByBrokerKeepsConsuming() throws Exception {
        Courier c = connect(Map.of());
        String topic = prefix + ".orders";
        List<String> seen = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g"), d -> seen.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
        c.publisher().publish(topic, "k", "m1").toCompletableFuture().get(20, TimeUnit.SECONDS);
        Await.atMost(Duration.ofSeconds(20)).until("m1", () -> seen.contains("m1"), () -> seen);

        // the broker closes the consumer's channel with 406 PRECONDITION_FAILED, as its consumer_timeout does
        // ("delivery acknowledgement on channel N timed out"); here provoked with an ack of an unknown tag
        @SuppressWarnings("unchecked")
        Set<RabbitSubscription> subs = (Set<RabbitSubscription>) field(binding(c), "subscriptions");
        RabbitSubscription s = subs.iterator().next();
        Channel ch = (Channel) field(s, "channel");
        ch.basicAck(987_654, false);
        Await.atMost(Duration.ofSeconds(10)).until("the broker closed the consumer channel", () -> !ch.isOpen());

        c.publisher().publish(topic, "k", "m2").toCompletableFuture().get(20, TimeUnit.SECONDS);
        Await.atMost(Duration.ofSeconds(30)).until("m2 is consumed after the channel error", () -> seen.contains("m2"),
                () -> seen + " (subscription still registered: " + subs.contains(s) + ")");
    }

    @Test
    @DisplayName("a handler that acks and then closes its whole Courier keeps its ack: the message is not redelivered")
    void ackThenCloseTheCourierFromTheHandler() throws Exception {
        String topic = prefix + ".ackclose";
        Courier setup = connect(Map.of());
        setup.subscribe(Subscribe.to(topic).group("g"), d -> { }).close(); // declares the group's queue
        Courier c1 = Courier.builder().config(CourierConfig.builder().withoutEnvironment().setAll(RabbitBroker.FIXTURE.config())
                .url(RabbitBroker.FIXTURE.url()).build()).connect();
        open.add(c1);
        java.util.concurrent.CountDownLatch handled = new java.util.concurrent.CountDownLatch(1);
        c1.subscribe(Subscribe.to(topic).group("g"), d -> {
            d.ack();
            c1.close(); // "take one message and stop"
            handled.countDown();
        });
        setup.publisher().publish(topic, "k", "only").toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertThat(handled.await(30, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(500);
        List<String> again = new CopyOnWriteArrayList<>();
        connect(Map.of()).subscribe(Subscribe.to(topic).group("g"), d -> again.add(d.attempt() + ""));
        Thread.sleep(3000);
        assertThat(again).as("deliveries of the message after the handler acked and closed its Courier").isEmpty();
    }

    // ------------------------------------------------------------------ exchange deleted while in use

    private static void deleteExchange(String name) throws Exception {
        try (Connection raw = RabbitBroker.rawConnection()) {
            Channel ch = raw.createChannel();
            ch.exchangeDelete(name);
            ch.close();
        }
    }

    /** Publishes {@code payload} until a publish succeeds (at most 5 tries); the failures of the tries before. */
    private static List<Throwable> publishUntilAccepted(Courier c, String topic, String payload) throws Exception {
        List<Throwable> errors = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            try {
                c.publisher().publish(topic, "k", payload).toCompletableFuture().get(20, TimeUnit.SECONDS);
                return errors;
            } catch (ExecutionException e) {
                errors.add(e.getCause());
                Thread.sleep(200);
            }
        }
        throw new AssertionError("no publish of " + payload + " was accepted: " + errors);
    }

    @Test
    @DisplayName("an exchange deleted while in use is declared again, with the bindings of this process's subscriptions: messages flow again")
    void exchangeDeletedWhileInUseIsDeclaredAgain() throws Exception {
        Courier c = connect(Map.of());
        String topic = prefix + ".gone";
        List<String> seen = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to(topic).group("g"), d -> seen.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
        c.publisher().publish(topic, "k", "first").toCompletableFuture().get(20, TimeUnit.SECONDS);
        Await.atMost(Duration.ofSeconds(20)).until("first", () -> seen.contains("first"), () -> seen);
        deleteExchange(topic);

        List<Throwable> errors = publishUntilAccepted(c, topic, "again");
        assertThat(errors).as("the publish the broker refused with 404 fails, retriable").isNotEmpty()
                .allSatisfy(e -> assertThat(e).isInstanceOf(PublishException.class)
                        .satisfies(p -> assertThat(((PublishException) p).isRetriable()).isTrue()));
        Await.atMost(Duration.ofSeconds(20)).until("a message published after the exchange came back is consumed",
                () -> seen.contains("again"), () -> seen);
    }

    @Test
    @DisplayName("after its exchange was deleted and declared again, a publish no queue takes fails as unroutable instead of vanishing")
    void publishToARedeclaredExchangeWithoutQueuesFails() throws Exception {
        Courier other = connect(Map.of()); // a subscriber in another process: it does not learn that the exchange was deleted
        String topic = prefix + ".unbound";
        other.subscribe(Subscribe.to(topic).group("g"), d -> { });
        Courier c = connect(Map.of());
        c.publisher().publish(topic, "k", "first").toCompletableFuture().get(20, TimeUnit.SECONDS);
        deleteExchange(topic);

        List<Throwable> errors = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            try {
                c.publisher().publish(topic, "k", "lost?").toCompletableFuture().get(20, TimeUnit.SECONDS);
                errors.add(null);
            } catch (ExecutionException e) {
                errors.add(e.getCause());
            }
        }
        assertThat(errors.get(errors.size() - 1)).as("the last of " + errors).isInstanceOf(UnroutableMessageException.class);
        assertThat(errors).as("no publish was reported as done while no queue was bound").doesNotContainNull();
    }

    @Test
    @DisplayName("publishes to other topics that failed with the same channel close are not made mandatory: a topic nobody subscribes to takes publishes")
    void otherTopicsOfTheClosedChannelStayAsTheyWere() throws Exception {
        Courier c = connect(Map.of());
        String gone = prefix + ".gone";
        String quiet = prefix + ".quiet"; // nobody subscribes: publishes to it are dropped by the broker, as usual
        c.publisher().publish(gone, "k", "first").toCompletableFuture().get(20, TimeUnit.SECONDS);
        c.publisher().publish(quiet, "k", "first").toCompletableFuture().get(20, TimeUnit.SECONDS);
        deleteExchange(gone);
        // same thread, same channel: the publish to 'quiet' is outstanding when the broker closes the channel for 'gone'
        var refused = c.publisher().publish(gone, "k", "x").toCompletableFuture();
        var bystander = c.publisher().publish(quiet, "k", "x").toCompletableFuture();
        assertThatThrownBy(() -> refused.get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        try {
            bystander.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            // failed with the channel, or confirmed before: either is fine
        }
        publishUntilAccepted(c, quiet, "later");
        for (int i = 0; i < 3; i++) {
            c.publisher().publish(quiet, "k", "more-" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
        }
    }

    // ------------------------------------------------------------------ dead letters kept in a queue declared with other arguments

    @Test
    @DisplayName("a dead letter reaches its .dlq queue when the dead-letter reader declared that queue with a TTL (another process)")
    void deadLetterToRetentionQueueDeclaredWithArguments() throws Exception {
        String topic = prefix + ".work";
        Courier reader = connect(Map.of());
        List<String> dead = new CopyOnWriteArrayList<>();
        reader.subscribe(Subscribe.to(topic + ".g.dlq").group("ops").with(RabbitSubscribeOptions.messageTtl(Duration.ofDays(7))),
                d -> dead.add(new String(d.message().payload(), StandardCharsets.UTF_8)));
        List<String> failures = new CopyOnWriteArrayList<>();
        Courier worker = connect(Map.of(), new CourierListener() {
            @Override
            public void deadLetterFailed(Delivery delivery, String deadLetterTopic, Throwable error) {
                failures.add(error.toString());
            }
        });
        worker.subscribe(Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(200)), d -> d.deadLetter("bad"));
        worker.publisher().publish(topic, "k", "poison").toCompletableFuture().get(20, TimeUnit.SECONDS);
        Await.atMost(Duration.ofSeconds(20)).until("the dead letter reached the reader", () -> dead.contains("poison"),
                () -> "dead letters " + dead + ", " + failures.size() + " failed dead-letter publishes, the first: "
                        + (failures.isEmpty() ? "none" : failures.get(0)));
    }

    // ------------------------------------------------------------------ request-reply

    private static List<String> ctl(String... args) throws Exception {
        return RabbitBroker.rabbitmqctl(args);
    }

    @Test
    @DisplayName("a request refused by the broker (exchange deleted meanwhile) fails the requests waiting on its channel at once, and later ones work")
    void refusedRequestFailsTheOthersAtOnce() throws Exception {
        Courier responder = connect(Map.of());
        Courier requester = connect(Map.of());
        String slow = prefix + ".slow";
        String gone = prefix + ".gone";
        responder.respond(Subscribe.to(slow).group("r"), d -> {
            Thread.sleep(2000);
            return "answer";
        });
        responder.respond(Subscribe.to(gone).group("r"), d -> "other");
        // the requester has used 'gone' once (its exchange is known), then the exchange is deleted
        requester.requester().request(gone, "x", String.class, Duration.ofSeconds(10)).toCompletableFuture().get(20, TimeUnit.SECONDS);
        deleteExchange(gone);
        var waiting = requester.requester().request(slow, "q", String.class, Duration.ofSeconds(60)).toCompletableFuture();
        Thread.sleep(300);
        var bad = requester.requester().request(gone, "y", String.class, Duration.ofSeconds(60)).toCompletableFuture();
        assertThatThrownBy(() -> bad.get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class);
        // its reply address died with the channel: it fails well before its 60 s timeout, retriable
        assertThatThrownBy(() -> waiting.get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class).hasMessageContaining("request again")
                .satisfies(e -> assertThat(((PublishException) e).isRetriable()).isTrue());
        assertThat(requester.requester().request(slow, "q2", String.class, Duration.ofSeconds(30)).toCompletableFuture().get(40, TimeUnit.SECONDS))
                .isEqualTo("answer");
        // 'gone' is declared again by the requester, but the responder (another connection) lost its binding: nobody answers
        assertThatThrownBy(() -> requester.requester().request(gone, "z", String.class, Duration.ofSeconds(30)).toCompletableFuture()
                .get(40, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class).cause().isInstanceOf(NoResponderException.class);
    }

    // ------------------------------------------------------------------ a user without configure permission (provisioning=false setups)

    /** Runs {@code body} with a broker user that may read and write everything but configure nothing (provisioning=false setups). */
    private void withReadWriteOnlyUser(ThrowingConsumer<String> body) throws Exception {
        String user = "courier-rw-" + UUID.randomUUID().toString().substring(0, 8);
        ctl("add_user", user, "rw-secret");
        try {
            ctl("set_permissions", "-p", "/", user, "^$", ".*", ".*");
            String url = RabbitBroker.FIXTURE.url().replaceFirst("://[^@]*@", "://" + user + ":rw-secret@");
            body.accept(url);
        } finally {
            ctl("delete_user", user);
        }
    }

    interface ThrowingConsumer<T> {
        void accept(T t) throws Exception;
    }

    private Courier connectAs(String url, Map<String, String> extra) {
        Courier c = Courier.connect(CourierConfig.builder().withoutEnvironment().setAll(extra).url(url).build());
        open.add(c);
        return c;
    }

    @Test
    @DisplayName("a subscription the broker refuses with 403 ACCESS_REFUSED fails with a CourierException, not an internal exception type")
    void accessRefusedSubscriptionIsTyped() throws Exception {
        String topic = prefix + ".acl";
        try (Connection raw = RabbitBroker.rawConnection()) {
            Channel ch = raw.createChannel();
            ch.exchangeDeclare(topic, "topic", true);
            ch.close();
        }
        withReadWriteOnlyUser(url -> {
            Courier c = connectAs(url, Map.of(RabbitConfig.PROVISIONING, "false"));
            assertThatThrownBy(() -> c.subscribe(Subscribe.to(topic), d -> { }))
                    .isInstanceOf(dev.courier.ConfigurationException.class)
                    .hasMessageContaining("ACCESS_REFUSED").hasMessageContaining("configure");
        });
    }

    @Test
    @DisplayName("a nack with delay whose delay queue the broker refuses does not redeliver the message in a hot loop with the same attempt")
    void refusedDelayQueueDoesNotLoopHot() throws Exception {
        String topic = prefix + ".aclnack";
        try (Connection raw = RabbitBroker.rawConnection()) {
            Channel ch = raw.createChannel();
            ch.exchangeDeclare(topic, "topic", true);
            ch.queueDeclare(topic + ".g", true, false, false, null);
            ch.queueBind(topic + ".g", topic, "#");
            ch.close();
        }
        withReadWriteOnlyUser(url -> {
            Courier c = connectAs(url, Map.of(RabbitConfig.PROVISIONING, "false"));
            List<Integer> attempts = new CopyOnWriteArrayList<>();
            List<Long> at = new CopyOnWriteArrayList<>();
            var sub = c.subscribe(Subscribe.to(topic).group("g"), d -> {
                attempts.add(d.attempt());
                at.add(System.nanoTime());
                d.nack(Duration.ofSeconds(1));
            });
            c.publisher().publish(topic, "k", "x").toCompletableFuture().get(20, TimeUnit.SECONDS);
            Await.atMost(Duration.ofSeconds(30)).until("three deliveries", () -> attempts.size() >= 3, () -> attempts);
            sub.close(Duration.ofSeconds(5));
            assertThat(attempts.subList(0, 3)).as("each redelivery counts as the next attempt").containsExactly(1, 2, 3);
            assertThat(Duration.ofNanos(at.get(2) - at.get(0))).as("the delays were kept, in process").isGreaterThanOrEqualTo(Duration.ofMillis(1900));
        });
    }
}
