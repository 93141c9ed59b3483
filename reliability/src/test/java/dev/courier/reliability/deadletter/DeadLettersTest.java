package dev.courier.reliability.deadletter;

import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.Subscribe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeadLettersTest {

    private static final Duration IDLE = Duration.ofMillis(500);

    private Courier courier;
    private DeadLetters dlq;
    private final String topic = "orders";
    private final String group = "billing";
    private final String deadLetterTopic = "orders.billing.dlq";
    private final AtomicBoolean failing = new AtomicBoolean(true);
    /** Payload text -> the Message the handler saw once it succeeded. */
    private final Map<String, Message> processed = new ConcurrentHashMap<>();

    @BeforeEach
    void connect() {
        courier = Courier.connect("mem://dlq-" + UUID.randomUUID());
        dlq = DeadLetters.of(courier);
        courier.subscribe(Subscribe.to(topic).group(group).maxAttempts(1).redeliveryDelay(Duration.ZERO), d -> {
            String text = new String(d.message().payload(), StandardCharsets.UTF_8);
            if (failing.get()) {
                if (text.startsWith("conn")) {
                    throw new IllegalStateException("connection refused for " + text);
                }
                throw new IllegalArgumentException("bad " + text);
            }
            processed.put(text, d.message());
        });
    }

    @AfterEach
    void close() {
        courier.close();
    }

    private List<Message> publish(String... texts) {
        List<Message> sent = new java.util.ArrayList<>();
        for (String t : texts) {
            Message m = courier.publisher().message(topic, t).key("k-" + t).header("x-trace", "trace-" + t).build();
            courier.publisher().publish(m).toCompletableFuture().join();
            sent.add(m);
        }
        return sent;
    }

    private void deadLettered(int count) {
        until(count + " dead letters", () -> dlq.list(deadLetterTopic, 100, IDLE).size() >= count);
    }

    private static void until(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static Set<String> texts(List<DeadLetter> dls) {
        return dls.stream().map(dl -> new String(dl.message().payload(), StandardCharsets.UTF_8)).collect(Collectors.toSet());
    }

    @Test
    void listShowsTheFailureInformationAndConsumesNothing() {
        Message sent = publish("conn-1").get(0);
        deadLettered(1);

        List<DeadLetter> first = dlq.list(deadLetterTopic, 100, IDLE);
        List<DeadLetter> second = dlq.list(deadLetterTopic, 100, IDLE);

        assertThat(first).hasSize(1);
        assertThat(second).extracting(DeadLetter::id).isEqualTo(first.stream().map(DeadLetter::id).toList());
        DeadLetter dl = first.get(0);
        assertThat(dl.id()).isEqualTo(sent.id());
        assertThat(dl.originalId()).isEqualTo(sent.id());
        assertThat(dl.deadLetterTopic()).isEqualTo(deadLetterTopic);
        assertThat(dl.originalTopic()).isEqualTo(topic);
        assertThat(dl.originalGroup()).isEqualTo(group);
        assertThat(dl.attempts()).isEqualTo(1);
        assertThat(dl.exceptionClass()).isEqualTo(IllegalStateException.class.getName());
        assertThat(dl.exceptionMessage()).isEqualTo("connection refused for conn-1");
        assertThat(dl.reason()).contains("gave up after 1 attempt");
        assertThat(dl.stackTrace()).contains("IllegalStateException");
        assertThat(dl.deadLetteredAt()).isPresent();
        assertThat(dl.firstFailure()).isPresent();
        assertThat(dl.lastFailure()).isPresent();
        assertThat(dl.position()).isNotEmpty();
        assertThat(dl.message().key()).isEqualTo("k-conn-1");
    }

    @Test
    void redriveMovesEveryDeadLetterBackAndTheHandlerProcessesThem() {
        List<Message> sent = publish("conn-1", "conn-2", "bad-3");
        deadLettered(3);
        failing.set(false);

        RedriveResult r = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE));

        assertThat(r.redriven()).isEqualTo(3);
        assertThat(r.skipped()).isZero();
        assertThat(r.failed()).isZero();
        until("the handler processed the 3 redriven messages", () -> processed.size() == 3);
        for (Message original : sent) {
            Message back = processed.get(new String(original.payload(), StandardCharsets.UTF_8));
            assertThat(back.id()).as("a redriven message has a new id").isNotEqualTo(original.id());
            assertThat(back.header(DeadLetters.ORIGINAL_ID)).isEqualTo(original.id());
            assertThat(back.key()).isEqualTo(original.key());
            assertThat(back.header("x-trace")).isEqualTo(original.header("x-trace"));
            assertThat(back.headers().asMap().keySet()).noneMatch(h -> h.startsWith("courier-dlq-"));
        }
        assertThat(dlq.list(deadLetterTopic, 100, IDLE)).as("nothing pending after a full redrive").isEmpty();
    }

    @Test
    void aFilteredRedriveMovesOnlyTheSelectedOnesAndTheOthersRemain() {
        publish("conn-1", "bad-2", "conn-3", "bad-4");
        deadLettered(4);
        failing.set(false);

        RedriveResult r = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE)
                .filter(dl -> dl.exceptionClass().equals(IllegalStateException.class.getName())));

        assertThat(r.redriven()).isEqualTo(2);
        assertThat(r.skipped()).isEqualTo(2);
        until("the handler processed the 2 redriven messages", () -> processed.size() == 2);
        assertThat(processed.keySet()).containsExactlyInAnyOrder("conn-1", "conn-3");
        List<DeadLetter> left = dlq.list(deadLetterTopic, 100, IDLE);
        assertThat(texts(left)).containsExactlyInAnyOrder("bad-2", "bad-4");
        assertThat(left).allSatisfy(dl -> assertThat(dl.exceptionClass()).isEqualTo(IllegalArgumentException.class.getName()));

        RedriveResult rest = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE));
        assertThat(rest.redriven()).isEqualTo(2);
        until("the handler processed all 4", () -> processed.size() == 4);
        assertThat(dlq.list(deadLetterTopic, 100, IDLE)).isEmpty();
    }

    @Test
    void aDeadLetterWithoutItsOriginalTopicFailsAndStaysUntilRedrivenWithTo() {
        Message handMade = courier.publisher().message(deadLetterTopic, "orphan").header(HeaderNames.DLQ_REASON, "by hand").build();
        courier.publisher().publish(handMade).toCompletableFuture().join();

        RedriveResult r = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE));

        assertThat(r.failed()).isEqualTo(1);
        assertThat(r.redriven()).isZero();
        assertThat(r.failures()).containsOnlyKeys(handMade.id());
        assertThat(r.failures().get(handMade.id())).contains(HeaderNames.DLQ_ORIGINAL_TOPIC).contains("Redrive.to(");
        List<DeadLetter> left = dlq.list(deadLetterTopic, 100, IDLE);
        assertThat(left).hasSize(1);
        assertThat(left.get(0).originalId()).isEqualTo(handMade.id());
        assertThat(left.get(0).reason()).isEqualTo("by hand");

        failing.set(false);
        RedriveResult to = dlq.redrive(Redrive.from(deadLetterTopic).to(topic).idleTimeout(IDLE));
        assertThat(to.redriven()).isEqualTo(1);
        until("the orphan is processed", () -> processed.containsKey("orphan"));
        assertThat(processed.get("orphan").header(DeadLetters.ORIGINAL_ID)).isEqualTo(handMade.id());
    }

    @Test
    void aFilterThatThrowsCountsAsFailedAndLeavesTheDeadLetter() {
        publish("conn-1");
        deadLettered(1);
        RedriveResult r = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE).filter(dl -> {
            throw new IllegalStateException("filter bug");
        }));
        assertThat(r.failed()).isEqualTo(1);
        assertThat(r.failures().values()).singleElement().asString().contains("filter bug");
        assertThat(dlq.list(deadLetterTopic, 100, IDLE)).hasSize(1);
    }

    @Test
    void theLimitBoundsARedriveAndTheNextContinues() {
        publish("conn-1", "conn-2", "conn-3");
        deadLettered(3);
        failing.set(false);

        RedriveResult first = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE).limit(2));
        assertThat(first.total()).isEqualTo(2);
        assertThat(first.redriven()).isEqualTo(2);
        assertThat(dlq.list(deadLetterTopic, 100, IDLE)).hasSize(1);
        assertThat(dlq.list(deadLetterTopic, 1, IDLE)).hasSize(1);

        RedriveResult second = dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(IDLE));
        assertThat(second.redriven()).isEqualTo(1);
        until("all 3 processed", () -> processed.size() == 3);
    }

    @Test
    void aRedriveStopsAsSoonAsItsLimitWasHandledWithoutWaitingForTheIdleTimeout() throws Exception {
        publish("conn-1");
        deadLettered(1);
        failing.set(false);
        Duration longIdle = Duration.ofMinutes(10); // far beyond the wait below: only the limit can end the redrive in time

        CompletableFuture<RedriveResult> r = CompletableFuture.supplyAsync(
                () -> dlq.redrive(Redrive.from(deadLetterTopic).idleTimeout(longIdle).limit(1)));
        assertThat(r.get(60, TimeUnit.SECONDS).redriven()).isEqualTo(1);
        until("conn-1 processed", () -> processed.containsKey("conn-1"));
        assertThat(dlq.list(deadLetterTopic, 10, IDLE)).isEmpty();
    }

    @Test
    void anUnknownDestinationGivesEmptyResultsAfterTheIdleTimeout() {
        assertThat(dlq.list("nothing.here.dlq", 10, IDLE)).isEmpty();
        RedriveResult r = dlq.redrive(Redrive.from("nothing.here.dlq").idleTimeout(IDLE));
        assertThat(r.total()).isZero();
    }

    @Test
    void badArgumentsAreRefusedWithClearErrors() {
        assertThatThrownBy(() -> dlq.list(deadLetterTopic, 0, IDLE)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit");
        assertThatThrownBy(() -> dlq.list(deadLetterTopic, 10, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("idleTimeout");
        assertThatThrownBy(() -> dlq.list("bad topic", 10, IDLE)).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> Redrive.from(deadLetterTopic).limit(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Redrive.from("a..b")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> DeadLetters.of(courier, "")).isInstanceOf(ConfigurationException.class);
    }
}
