package dev.courier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.courier.Courier;
import dev.courier.NonRetryableException;
import dev.courier.Subscribe;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CLI in-process against a named, kept in-memory broker, so that separate commands share it
 * the way separate processes share a real broker.
 */
class CourierCliTest {

    private String url;
    private String topic;
    private Courier holder;

    @BeforeEach
    void broker() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        url = "mem://cli-" + id + "?keep=true";
        topic = "cli.orders." + id;
        holder = Courier.connect(url);   // keeps the broker for the test's duration
    }

    @AfterEach
    void release() {
        holder.close();
    }

    @Nested
    @DisplayName("publish then consume")
    class PublishConsume {

        @Test
        @DisplayName("consume -n prints the published messages as JSON lines, with key, headers and position")
        void publishThenConsume() {
            CliRun p1 = CliRun.terminal().run("publish", "--url", url, topic, "{\"order\":1}", "--key", "c-7", "-H", "tenant=acme");
            assertThat(p1.exitCode).as(p1.describe()).isZero();
            assertThat(p1.out()).startsWith("published id=").contains("topic=" + topic).contains("sequence=");
            CliRun p2 = CliRun.terminal().run("publish", "--url", url, topic, "second", "--json");
            assertThat(p2.exitCode).as(p2.describe()).isZero();
            JsonNode receipt = p2.json().get(0);
            assertThat(receipt.get("topic").asText()).isEqualTo(topic);
            assertThat(receipt.get("id").asText()).isNotBlank();

            CliRun c = CliRun.terminal().run("consume", "--url", url, topic, "-n", "2", "--timeout", "30s");
            assertThat(c.exitCode).as(c.describe()).isZero();
            List<JsonNode> msgs = c.json();
            assertThat(msgs).hasSize(2);
            assertThat(msgs.get(0).get("payload").asText()).isEqualTo("{\"order\":1}");
            assertThat(msgs.get(0).get("contentType").asText()).isEqualTo("application/json");
            assertThat(msgs.get(0).get("key").asText()).isEqualTo("c-7");
            assertThat(msgs.get(0).get("headers").get("tenant").asText()).isEqualTo("acme");
            assertThat(msgs.get(0).get("attempt").asInt()).isEqualTo(1);
            assertThat(msgs.get(0).get("position").has("sequence")).isTrue();
            assertThat(msgs.get(1).get("payload").asText()).isEqualTo("second");
            assertThat(msgs.get(1).get("id").asText()).isEqualTo(receipt.get("id").asText());
            assertThat(msgs.get(1).get("contentType").asText()).startsWith("text/plain");
        }

        @Test
        @DisplayName("standard input: raw bytes, one message per line with --lines, binary payloads printed in base64")
        void stdin() throws Exception {
            CliRun lines = CliRun.stdin("a\nb\n\nc\n").run("publish", "--url", url, topic, "--lines");
            assertThat(lines.exitCode).as(lines.describe()).isZero();
            assertThat(lines.lines()).hasSize(3);
            CliRun dash = CliRun.stdin("from dash").run("publish", "--url", url, topic, "-");
            assertThat(dash.exitCode).as(dash.describe()).isZero();
            byte[] binary = {(byte) 0xff, 0, (byte) 0xfe, 1};
            CliRun raw = CliRun.stdin(binary).run("publish", "--url", url, topic);
            assertThat(raw.exitCode).as(raw.describe()).isZero();
            Path file = Files.createTempFile("cli", ".json");
            Files.writeString(file, "[1,2]");
            CliRun fromFile = CliRun.terminal().run("publish", "--url", url, topic, "--file", file.toString());
            assertThat(fromFile.exitCode).as(fromFile.describe()).isZero();

            CliRun c = CliRun.terminal().run("consume", "--url", url, topic, "-n", "6", "--timeout", "30s");
            assertThat(c.exitCode).as(c.describe()).isZero();
            List<JsonNode> msgs = c.json();
            assertThat(msgs).extracting(m -> m.get("payload").asText())
                    .containsExactly("a", "b", "c", "from dash", Base64.getEncoder().encodeToString(binary), "[1,2]");
            assertThat(msgs.get(4).get("payloadEncoding").asText()).isEqualTo("base64");
            assertThat(msgs.get(4).get("contentType").asText()).isEqualTo("application/octet-stream");
            assertThat(msgs.get(5).get("contentType").asText()).isEqualTo("application/json");
        }

        @Test
        @DisplayName("a group shares the messages: two consume -n 2 runs get the four messages once each")
        void groupTakesEachMessageOnce() {
            CliRun p = CliRun.stdin("m1\nm2\nm3\nm4\n").run("publish", "--url", url, topic, "--lines");
            assertThat(p.exitCode).as(p.describe()).isZero();
            CliRun first = CliRun.terminal().run("consume", "--url", url, topic, "--group", "audit", "-n", "2", "--timeout", "30s");
            CliRun second = CliRun.terminal().run("consume", "--url", url, topic, "--group", "audit", "-n", "2", "--timeout", "30s");
            assertThat(first.exitCode).as(first.describe()).isZero();
            assertThat(second.exitCode).as(second.describe()).isZero();
            assertThat(first.json()).extracting(m -> m.get("payload").asText()).containsExactly("m1", "m2");
            assertThat(second.json()).extracting(m -> m.get("payload").asText()).containsExactly("m3", "m4");
            CliRun none = CliRun.terminal().run("consume", "--url", url, topic, "--group", "audit", "-n", "1", "--timeout", "1s");
            assertThat(none.exitCode).as(none.describe()).isEqualTo(ExitCodes.TIMEOUT);
            assertThat(none.err()).contains("received 0 of 1");
        }

        @Test
        @DisplayName("tail follows new messages until -n; consume --timeout without -n ends normally")
        void tail() throws Exception {
            CliRun old = CliRun.terminal().run("publish", "--url", url, topic, "before");
            assertThat(old.exitCode).isZero();
            CliRun tail = CliRun.terminal();
            CompletableFuture<CliRun> running = tail.start("tail", "--url", url, topic, "-n", "2");
            Await.await().until("tail subscribed", () -> tail.err().contains("consuming '" + topic + "'"), tail::describe);
            assertThat(CliRun.terminal().run("publish", "--url", url, topic, "after-1").exitCode).isZero();
            assertThat(CliRun.terminal().run("publish", "--url", url, topic, "after-2").exitCode).isZero();
            CliRun done = running.get(60, TimeUnit.SECONDS);
            assertThat(done.exitCode).as(done.describe()).isZero();
            assertThat(done.json()).extracting(m -> m.get("payload").asText()).containsExactly("after-1", "after-2");

            CliRun idle = CliRun.terminal().run("consume", "--url", url, topic, "--timeout", "500ms", "--quiet");
            assertThat(idle.exitCode).as(idle.describe()).isZero();
            assertThat(idle.json()).hasSize(3);
            assertThat(idle.err()).isEmpty();
        }

        @Test
        @DisplayName("stop() (what Ctrl-C calls) ends a tail cleanly")
        void stopEndsTail() throws Exception {
            CliRun tail = CliRun.terminal();
            CompletableFuture<CliRun> running = tail.start("tail", "--url", url, topic);
            Await.await().until("tail subscribed", () -> tail.err().contains("consuming"), tail::describe);
            tail.stop();
            CliRun done = running.get(60, TimeUnit.SECONDS);
            assertThat(done.exitCode).as(done.describe()).isZero();
        }

        @Test
        @DisplayName("--from a time reads what was published since")
        void fromTime() {
            assertThat(CliRun.terminal().run("publish", "--url", url, topic, "old").exitCode).isZero();
            String since = Instant.now().plusMillis(2).toString();
            Await.await().until("the clock is past the start time", () -> Instant.now().isAfter(Instant.parse(since)));
            assertThat(CliRun.terminal().run("publish", "--url", url, topic, "new").exitCode).isZero();
            CliRun c = CliRun.terminal().run("consume", "--url", url, topic, "--from", since, "-n", "1", "--timeout", "30s");
            assertThat(c.exitCode).as(c.describe()).isZero();
            assertThat(c.json()).extracting(m -> m.get("payload").asText()).containsExactly("new");
        }
    }

    @Nested
    @DisplayName("request")
    class Request {

        @Test
        @DisplayName("prints the reply; no responder, timeout and a failing responder have their own exit codes")
        void replies() {
            holder.respond(Subscribe.to(topic + ".status").group("svc"), d -> "status of " + d.payload(String.class));
            CliRun ok = CliRun.terminal().run("request", "--url", url, topic + ".status", "o-1", "--timeout", "30s");
            assertThat(ok.exitCode).as(ok.describe()).isZero();
            assertThat(ok.out().strip()).isEqualTo("status of o-1");
            CliRun json = CliRun.stdin("o-2").run("request", "--url", url, topic + ".status", "--json");
            assertThat(json.exitCode).as(json.describe()).isZero();
            assertThat(json.json().get(0).get("payload").asText()).isEqualTo("status of o-2");

            CliRun none = CliRun.terminal().run("request", "--url", url, topic + ".nobody", "x", "--timeout", "30s");
            assertThat(none.exitCode).as(none.describe()).isEqualTo(ExitCodes.NO_RESPONDER);
            assertThat(none.err()).startsWith("courier request: ").contains(topic + ".nobody");
            assertThat(none.err().strip().lines()).hasSize(1);

            holder.respond(Subscribe.to(topic + ".broken").group("svc"), d -> {
                throw new IllegalStateException("inventory offline");
            });
            CliRun failed = CliRun.terminal().run("request", "--url", url, topic + ".broken", "x", "--timeout", "30s");
            assertThat(failed.exitCode).as(failed.describe()).isEqualTo(ExitCodes.REQUEST_FAILED);
            assertThat(failed.err()).contains("inventory offline");

            CountDownLatch release = new CountDownLatch(1);
            holder.respond(Subscribe.to(topic + ".slow").group("svc"), d -> {
                release.await(60, TimeUnit.SECONDS);
                return "late";
            });
            try {
                CliRun slow = CliRun.terminal().run("request", "--url", url, topic + ".slow", "x", "--timeout", "300ms");
                assertThat(slow.exitCode).as(slow.describe()).isEqualTo(ExitCodes.TIMEOUT);
            } finally {
                release.countDown();
            }
        }
    }

    @Nested
    @DisplayName("ping")
    class Ping {

        @Test
        @DisplayName("prints binding, URL, connect time and capability rows; says mem:// is in-process only")
        void ping() {
            CliRun p = CliRun.terminal().run("ping", "--url", url);
            assertThat(p.exitCode).as(p.describe()).isZero();
            assertThat(p.out()).contains("binding:  mem").contains("url:      mem://").contains("connect:  ")
                    .contains("| `REPLAY` | ").contains("| `PERSISTENCE` | Messages survive").contains("| Largest payload |")
                    .contains("other courier commands cannot reach it");
        }

        @Test
        @DisplayName("without --url it takes COURIER_URL")
        void urlFromEnvironment() {
            CliRun p = CliRun.terminal().env(Map.of("COURIER_URL", url)).run("ping");
            assertThat(p.exitCode).as(p.describe()).isZero();
            assertThat(p.out()).contains("url:      " + url.substring(0, url.indexOf('?')));
        }
    }

    @Nested
    @DisplayName("errors")
    class Errors {

        @Test
        @DisplayName("an unknown URL scheme is a configuration error in one line")
        void badScheme() {
            CliRun r = CliRun.terminal().run("ping", "--url", "carrier-pigeon://coop");
            assertThat(r.exitCode).as(r.describe()).isEqualTo(ExitCodes.ERROR);
            assertThat(r.err()).startsWith("courier ping: ").contains("unknown URL scheme 'carrier-pigeon'");
            assertThat(r.err().strip().lines()).hasSize(1);
        }

        @Test
        @DisplayName("a misspelled --set key is a configuration error naming the key meant, not a silent default")
        void misspelledSetting() {
            CliRun core = CliRun.terminal().run("ping", "--url", url, "--set", "courier.publish.timout=5s");
            assertThat(core.exitCode).as(core.describe()).isEqualTo(ExitCodes.ERROR);
            assertThat(core.err()).startsWith("courier ping: ").contains("did you mean courier.publish.timeout?");
            CliRun binding = CliRun.terminal().run("ping", "--url", "nats://127.0.0.1:1?mdoe=core");
            assertThat(binding.exitCode).as(binding.describe()).isEqualTo(ExitCodes.ERROR);
            assertThat(binding.err()).contains("did you mean mode?");
            CliRun other = CliRun.terminal().run("ping", "--url", url, "--set", "courier.kafka.retry-topic.treshold=5m");
            assertThat(other.exitCode).as("another binding's key does not fail a mem:// ping: " + other.describe()).isEqualTo(ExitCodes.OK);
        }

        @Test
        @DisplayName("an unreachable broker is exit code 3 and the password is masked")
        void unreachable() {
            CliRun r = CliRun.terminal().run("ping", "--url", "amqp://guest:s3cr3t-pw@127.0.0.1:1/", "--set", "courier.connect.timeout=5s");
            assertThat(r.exitCode).as(r.describe()).isEqualTo(ExitCodes.BROKER_UNAVAILABLE);
            assertThat(r.err()).startsWith("courier ping: ").contains("****").doesNotContain("s3cr3t-pw");
            assertThat(r.err().strip().lines()).hasSize(1);
            CliRun verbose = CliRun.terminal().run("ping", "--url", "amqp://guest:s3cr3t-pw@127.0.0.1:1/", "--verbose");
            assertThat(verbose.exitCode).isEqualTo(ExitCodes.BROKER_UNAVAILABLE);
            assertThat(verbose.err()).contains("\tat ").doesNotContain("s3cr3t-pw");
        }

        @Test
        @DisplayName("unknown verbs and options, bad values and a missing payload are usage errors")
        void usage() {
            CliRun verb = CliRun.terminal().run("publsh", topic);
            assertThat(verb.exitCode).isEqualTo(ExitCodes.USAGE);
            assertThat(verb.err()).startsWith("courier: ").contains("'publsh'").contains("Did you mean: courier publish").contains("Usage: courier");
            CliRun option = CliRun.terminal().run("publish", "--url", url, "--colour", topic, "x");
            assertThat(option.exitCode).isEqualTo(ExitCodes.USAGE);
            assertThat(option.err()).contains("Unknown option: '--colour'").contains("Usage: courier publish");
            CliRun emptyStdin = CliRun.stdin("").run("publish", "--url", url, topic);
            assertThat(emptyStdin.exitCode).isEqualTo(ExitCodes.USAGE);
            assertThat(emptyStdin.err()).contains("standard input was empty");
            CliRun noVerb = CliRun.terminal().run();
            assertThat(noVerb.exitCode).isEqualTo(ExitCodes.USAGE);
            CliRun noPayload = CliRun.terminal().run("publish", "--url", url, topic);
            assertThat(noPayload.exitCode).as(noPayload.describe()).isEqualTo(ExitCodes.USAGE);
            assertThat(noPayload.err()).contains("no payload");
            CliRun both = CliRun.terminal().run("publish", "--url", url, topic, "x", "--file", "y.json");
            assertThat(both.exitCode).isEqualTo(ExitCodes.USAGE);
            CliRun from = CliRun.terminal().run("consume", "--url", url, topic, "--from", "yesterday");
            assertThat(from.exitCode).isEqualTo(ExitCodes.USAGE);
            assertThat(from.err()).contains("earliest, latest or an ISO-8601 time");
            CliRun count = CliRun.terminal().run("consume", "--url", url, topic, "-n", "0");
            assertThat(count.exitCode).isEqualTo(ExitCodes.USAGE);
            CliRun timeout = CliRun.terminal().run("request", "--url", url, topic, "x", "--timeout", "soon");
            assertThat(timeout.exitCode).isEqualTo(ExitCodes.USAGE);
        }

        @Test
        @DisplayName("a missing file says which")
        void missingFile() {
            CliRun r = CliRun.terminal().run("publish", "--url", url, topic, "--file", "does-not-exist.json");
            assertThat(r.exitCode).isEqualTo(ExitCodes.ERROR);
            assertThat(r.err()).contains("cannot read does-not-exist.json: no such file");
        }
    }

    @ParameterizedTest(name = "courier {0} --help")
    @ValueSource(strings = {"publish", "consume", "tail", "request", "ping", "dlq", "dlq list", "dlq redrive"})
    @DisplayName("every verb has --help with the exit codes")
    void help(String verb) {
        List<String> args = new java.util.ArrayList<>(List.of(verb.split(" ")));
        args.add("--help");
        CliRun r = CliRun.terminal().run(args.toArray(String[]::new));
        assertThat(r.exitCode).isZero();
        assertThat(r.out()).contains("Usage: courier " + verb).contains("Exit codes:").contains("no responder");
    }

    @Nested
    @DisplayName("dlq")
    class Dlq {

        @Test
        @DisplayName("list shows the pending dead letters without taking them; redrive --filter-exception --to moves the selected")
        void listAndRedrive() {
            holder.subscribe(Subscribe.to(topic).group("billing").maxAttempts(1), d -> {
                String p = d.payload(String.class);
                if (p.equals("o-1")) {
                    throw new NonRetryableException("card declined for " + p);
                }
                throw new IllegalStateException("gateway timeout for " + p);
            });
            assertThat(CliRun.stdin("o-1\no-2\n").run("publish", "--url", url, topic, "--lines").exitCode).isZero();
            String dlq = topic + ".billing.dlq";
            Await.await().until("two dead letters listed", () -> {
                CliRun r = CliRun.terminal().run("dlq", "list", "--url", url, dlq, "--timeout", "1s");
                return r.exitCode == 0 && r.json().size() == 2;
            });
            CliRun list = CliRun.terminal().run("dlq", "list", "--url", url, dlq, "--timeout", "1s");
            List<JsonNode> letters = list.json();
            assertThat(letters).extracting(m -> m.get("payload").asText()).containsExactlyInAnyOrder("o-1", "o-2");
            JsonNode declined = letters.stream().filter(m -> m.get("payload").asText().equals("o-1")).findFirst().orElseThrow();
            assertThat(declined.get("originalTopic").asText()).isEqualTo(topic);
            assertThat(declined.get("originalGroup").asText()).isEqualTo("billing");
            assertThat(declined.get("exceptionClass").asText()).isEqualTo(NonRetryableException.class.getName());
            assertThat(declined.get("reason").asText()).contains("card declined for o-1");
            assertThat(declined.get("headers").get("courier-dlq-reason").asText()).contains("card declined");

            CliRun redrive = CliRun.terminal().run("dlq", "redrive", "--url", url, dlq, "--filter-exception", "IllegalStateException",
                    "--to", topic + ".retry", "--timeout", "1s");
            assertThat(redrive.exitCode).as(redrive.describe()).isZero();
            assertThat(redrive.out().strip()).isEqualTo("redriven=1 skipped=1 failed=0");

            CliRun retried = CliRun.terminal().run("consume", "--url", url, topic + ".retry", "-n", "1", "--timeout", "30s");
            assertThat(retried.exitCode).as(retried.describe()).isZero();
            assertThat(retried.json().get(0).get("payload").asText()).isEqualTo("o-2");
            assertThat(retried.json().get(0).get("headers").has("courier-dlq-reason")).isFalse();

            CliRun left = CliRun.terminal().run("dlq", "list", "--url", url, dlq, "--timeout", "1s");
            assertThat(left.json()).extracting(m -> m.get("payload").asText()).containsExactly("o-1");
            CliRun badLimit = CliRun.terminal().run("dlq", "list", "--url", url, dlq, "--limit", "0");
            assertThat(badLimit.exitCode).isEqualTo(ExitCodes.USAGE);
        }
    }
}
