package dev.courier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.courier.Courier;
import dev.courier.Subscribe;
import dev.courier.testkit.Await;
import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.BrokerLocator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The CLI in-process against the real RabbitMQ, NATS and (embedded) Kafka: each command connects on its own, like a process. */
class CourierCliOnBrokersTest {

    static BrokerFixture fixture(String broker) {
        return switch (broker) {
            case "kafka" -> BrokerLocator.kafka().locateShared();
            case "rabbitmq" -> BrokerLocator.rabbitmq().locateShared();
            default -> BrokerLocator.nats().locateShared();
        };
    }

    /** --url and one --set per fixture setting, then {@code args}. */
    static String[] args(BrokerFixture f, String verb, String... args) {
        List<String> all = new ArrayList<>(List.of(verb.split(" ")));
        all.add("--url");
        all.add(f.url());
        f.config().forEach((k, v) -> {
            all.add("--set");
            all.add(k + "=" + v);
        });
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    static String unique(String broker) {
        return "cli." + broker + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"kafka", "rabbitmq", "nats"})
    @DisplayName("consume --group -n prints what publish sent (argument, --json, stdin --lines)")
    void publishThenConsume(String broker) throws Exception {
        BrokerFixture f = fixture(broker);
        String topic = unique(broker);
        CliRun consume = CliRun.terminal();
        // subscribe first: on RabbitMQ a group's queue receives only what is published after it exists
        CompletableFuture<CliRun> running = consume.start(args(f, "consume", topic, "--group", "audit", "-n", "3", "--timeout", "120s"));
        Await.atMost(f.awaitTimeout().multipliedBy(2)).until("consume subscribed",
                () -> consume.err().contains("consuming '" + topic + "'") || running.isDone(), consume::describe);

        CliRun one = CliRun.terminal().run(args(f, "publish", topic, "{\"n\":1}", "--key", "k-1", "-H", "origin=cli-test"));
        assertThat(one.exitCode).as(one.describe()).isZero();
        CliRun lines = CliRun.stdin("two\nthree\n").run(args(f, "publish", topic, "--lines", "--json"));
        assertThat(lines.exitCode).as(lines.describe()).isZero();
        assertThat(lines.json()).hasSize(2).allSatisfy(r -> assertThat(r.get("topic").asText()).isEqualTo(topic));

        CliRun done = running.get(180, TimeUnit.SECONDS);
        assertThat(done.exitCode).as(done.describe()).isZero();
        List<JsonNode> msgs = done.json();
        assertThat(msgs).extracting(m -> m.get("payload").asText()).containsExactlyInAnyOrder("{\"n\":1}", "two", "three");
        JsonNode first = msgs.stream().filter(m -> m.get("payload").asText().equals("{\"n\":1}")).findFirst().orElseThrow();
        assertThat(first.get("key").asText()).isEqualTo("k-1");
        assertThat(first.get("headers").get("origin").asText()).isEqualTo("cli-test");
        assertThat(first.get("contentType").asText()).isEqualTo("application/json");
        assertThat(first.get("group").asText()).isEqualTo("audit");
        assertThat(first.get("attempt").asInt()).isEqualTo(1);
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"kafka", "rabbitmq", "nats"})
    @DisplayName("request prints the responder's reply; ping names the binding")
    void requestAndPing(String broker) {
        BrokerFixture f = fixture(broker);
        String topic = unique(broker) + ".status";
        try (Courier responder = Courier.connect(f.courierConfig())) {
            responder.respond(Subscribe.to(topic).group("svc"), d -> "ok:" + d.payload(String.class));
            CliRun r = CliRun.terminal().run(args(f, "request", topic, "o-9", "--timeout", "60s"));
            assertThat(r.exitCode).as(r.describe()).isZero();
            assertThat(r.out().strip()).isEqualTo("ok:o-9");
        }
        CliRun ping = CliRun.terminal().run(args(f, "ping"));
        assertThat(ping.exitCode).as(ping.describe()).isZero();
        assertThat(ping.out()).contains("binding:  " + broker).contains("| `CONSUMER_GROUPS` | ").contains("connect:  ");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"kafka", "rabbitmq", "nats"})
    @DisplayName("dlq list shows a dead letter; dlq redrive --to publishes it where a consumer gets it")
    void deadLetters(String broker) throws Exception {
        BrokerFixture f = fixture(broker);
        String topic = unique(broker);
        String dlq = topic + ".billing.dlq";
        try (Courier service = Courier.connect(f.courierConfig())) {
            service.subscribe(Subscribe.to(topic).group("billing").maxAttempts(1), d -> {
                throw new IllegalStateException("gateway timeout for " + d.payload(String.class));
            });
            assertThat(CliRun.terminal().run(args(f, "publish", topic, "o-77")).exitCode).isZero();

            // the idle timeouts only bound the wait for the first delivery (a Kafka group join): -n 1 ends each run at once
            CliRun list = CliRun.terminal().run(args(f, "dlq list", dlq, "-n", "1", "--timeout", "20s"));
            assertThat(list.exitCode).as(list.describe()).isZero();
            assertThat(list.json()).hasSize(1);
            assertThat(list.json().get(0).get("payload").asText()).isEqualTo("o-77");
            assertThat(list.json().get(0).get("exceptionClass").asText()).isEqualTo(IllegalStateException.class.getName());

            CliRun consume = CliRun.terminal();
            CompletableFuture<CliRun> running = consume.start(args(f, "consume", topic + ".retry", "--group", "retry", "-n", "1",
                    "--timeout", "120s"));
            Await.atMost(f.awaitTimeout().multipliedBy(2)).until("consume subscribed",
                    () -> consume.err().contains("consuming") || running.isDone(), consume::describe);
            CliRun redrive = CliRun.terminal().run(args(f, "dlq redrive", dlq, "--to", topic + ".retry", "-n", "1",
                    "--filter-exception", "java.lang.IllegalStateException", "--timeout", "20s", "--json"));
            assertThat(redrive.exitCode).as(redrive.describe()).isZero();
            assertThat(redrive.json().get(0).get("redriven").asInt()).isEqualTo(1);
            CliRun got = running.get(180, TimeUnit.SECONDS);
            assertThat(got.exitCode).as(got.describe()).isZero();
            assertThat(got.json().get(0).get("payload").asText()).isEqualTo("o-77");
        }
    }

    @Test
    @DisplayName("RabbitMQ: --from earliest is refused, naming REPLAY, instead of silently starting at the latest")
    void replayRefusedWhereUnsupported() {
        BrokerFixture f = fixture("rabbitmq");
        CliRun r = CliRun.terminal().run(args(f, "consume", unique("rabbitmq"), "--from", "earliest", "-n", "1"));
        assertThat(r.exitCode).as(r.describe()).isEqualTo(ExitCodes.ERROR);
        assertThat(r.err()).contains("REPLAY").contains("rabbitmq");
    }

    @Test
    @DisplayName("RabbitMQ: wrong credentials are exit code 3 with the password masked")
    void wrongCredentials() {
        CliRun r = CliRun.terminal().run("ping", "--url", "amqp://guest:not-the-pw-42@127.0.0.1:5672/");
        assertThat(r.exitCode).as(r.describe()).isEqualTo(ExitCodes.BROKER_UNAVAILABLE);
        assertThat(r.err()).contains("credentials").contains("****").doesNotContain("not-the-pw-42");
    }

    @Test
    @DisplayName("NATS: a request without responder is exit code 5")
    void noResponderOnNats() {
        BrokerFixture f = fixture("nats");
        CliRun r = CliRun.terminal().run(args(f, "request", unique("nats") + ".nobody", "x", "--timeout", "30s"));
        assertThat(r.exitCode).as(r.describe()).isEqualTo(ExitCodes.NO_RESPONDER);
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"rabbitmq"})
    @DisplayName("consume -g -n N twice: the second run resumes with message N+1, in order, none lost or sent to the back")
    void consumeCountResumesInOrder(String broker) {
        BrokerFixture f = fixture(broker);
        for (int round = 0; round < 3; round++) { // the (N+1)-th delivery races the ack of the N-th
            String topic = unique(broker);
            // RabbitMQ: the group's queue must exist before publishing
            CliRun.terminal().run(args(f, "consume", topic, "-g", "g", "-n", "1", "--timeout", "2s", "-q"));
            CliRun pub = CliRun.stdin("1\n2\n3\n4\n5\n6\n7\n8\n").run(args(f, "publish", topic, "--lines", "--key", "k"));
            assertThat(pub.exitCode).as(pub.describe()).isZero();

            CliRun first = CliRun.terminal().run(args(f, "consume", topic, "-g", "g", "-n", "3", "--timeout", "30s", "-q"));
            assertThat(first.exitCode).as(first.describe()).isZero();
            assertThat(payloads(first.json())).as(first.describe()).containsExactly("1", "2", "3");

            long begin = System.nanoTime();
            CliRun second = CliRun.terminal().run(args(f, "consume", topic, "-g", "g", "-n", "3", "--timeout", "10s", "-q"));
            assertThat(second.exitCode).as(second.describe()).isZero();
            assertThat(payloads(second.json())).as(second.describe()).containsExactly("4", "5", "6");
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - begin)).as("seconds the second run took").isLessThan(10);
        }
    }

    private static List<String> payloads(List<JsonNode> msgs) {
        return msgs.stream().map(m -> m.get("payload").asText()).toList();
    }
}
