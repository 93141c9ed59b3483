package dev.courier.cli;

import dev.courier.testkit.BrokerLocator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shaded {@code target/courier-cli.jar} as separate processes (run by failsafe after
 * {@code package}): bindings found through the merged service files, piped standard input, exit
 * codes, and two processes sharing a real broker.
 */
class CourierCliJarIT {

    static final Path JAR = Path.of("target", "courier-cli.jar");

    record Result(int exitCode, String out, String err) {
    }

    @BeforeAll
    static void jarExists() {
        assertThat(JAR).as("the shaded CLI jar; build it with ./mvnw -pl samples -am package").exists();
    }

    static Result courier(String stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                JAR.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        try (var in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).as("courier " + String.join(" ", args) + " ended").isTrue();
        return new Result(p.exitValue(), out.join(), err.join());
    }

    static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    @DisplayName("ping finds every binding in the jar; errors are one line without logs")
    void ping() throws Exception {
        Result mem = courier(null, "ping", "--url", "mem://");
        assertThat(mem.exitCode()).as(mem.toString()).isZero();
        assertThat(mem.out()).contains("binding:  mem").contains("| `REPLAY` |");
        assertThat(mem.err()).isEmpty();

        String rabbit = BrokerLocator.rabbitmq().locateShared().url();
        Result amqp = courier(null, "ping", "--url", rabbit);
        assertThat(amqp.exitCode()).as(amqp.toString()).isZero();
        assertThat(amqp.out()).contains("binding:  rabbitmq");

        Result denied = courier(null, "ping", "--url", "amqp://guest:jar-wrong-pw@127.0.0.1:5672/");
        assertThat(denied.exitCode()).as(denied.toString()).isEqualTo(ExitCodes.BROKER_UNAVAILABLE);
        assertThat(denied.err()).startsWith("courier ping: ").doesNotContain("jar-wrong-pw");
        assertThat(denied.err().strip().lines()).hasSize(1);

        Result usage = courier(null, "pong");
        assertThat(usage.exitCode()).isEqualTo(ExitCodes.USAGE);
        Result version = courier(null, "--version");
        assertThat(version.out()).startsWith("courier ");
    }

    @Test
    @DisplayName("one process publishes piped lines, another consumes them from NATS")
    void twoProcessesShareABroker() throws Exception {
        String nats = BrokerLocator.nats().locateShared().url();
        String topic = "cli.jar." + UUID.randomUUID().toString().substring(0, 8);
        Result pub = courier("first\nsecond\n", "publish", "--url", nats, topic, "--lines");
        assertThat(pub.exitCode()).as(pub.toString()).isZero();
        assertThat(pub.out().lines()).hasSize(2).allMatch(l -> l.startsWith("published id="));
        Result sub = courier(null, "consume", "--url", nats, topic, "-n", "2", "--timeout", "60s", "--quiet");
        assertThat(sub.exitCode()).as(sub.toString()).isZero();
        assertThat(sub.out()).contains("\"payload\":\"first\"").contains("\"payload\":\"second\"");
        assertThat(Files.size(JAR)).isPositive();
    }
}
