package dev.courier.cli;

import dev.courier.Courier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Command-line details on mem://: where tail starts for a group, clustered flags, zero timeouts and limits. */
class CliOptionEdgeTest {

    private String url;
    private String topic;
    private Courier holder;

    /** exit code, stdout, stderr of one in-process command line. */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CourierCli cli = new CourierCli(new ByteArrayInputStream(new byte[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).environment(Map.of()).stdinIsTerminal(true);
        int code = cli.run(args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeEach
    void broker() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        url = "mem://cli-edge-" + id + "?keep=true";
        topic = "cli-edge." + id;
        holder = Courier.connect(url);
    }

    @AfterEach
    void release() {
        holder.close();
    }

    /** docs/cli.md: "tail starts at the latest", also on a group's first run. */
    @Test
    void tailWithGroupStartsAtTheLatestMessage() {
        Result old = run("publish", "--url", url, topic, "published-before-tail");
        assertThat(old.exit()).as(old.toString()).isZero();

        Result tail = run("tail", "--url", url, topic, "--group", "watchers", "--timeout", "1s");
        assertThat(tail.exit()).as(tail.toString()).isZero();
        assertThat(tail.out()).as("tail printed a message published before it started\n" + tail)
                .doesNotContain("published-before-tail");
    }

    /** -v clustered with another flag (-qv) is --verbose as well: the error comes with its stack trace. */
    @Test
    void clusteredVerboseFlagPrintsTheStackTrace() {
        Result r = run("consume", "-qv", "--url", "amqp://guest:s3cr3t@127.0.0.1:1/", "--set", "courier.connect.timeout=2s", topic);
        assertThat(r.exit()).as(r.toString()).isEqualTo(ExitCodes.BROKER_UNAVAILABLE);
        assertThat(r.err()).as("--verbose given as part of -qv: a stack trace is expected\n" + r).contains("\tat ");
    }

    /** A zero --timeout or --limit is a usage error (exit 2, one line) for every command that takes one. */
    @Test
    void zeroTimeoutsAndLimitsAreUsageErrorsEverywhere() {
        Result consume = run("consume", "--url", url, topic, "--timeout", "0");
        assertThat(consume.exit()).as(consume.toString()).isEqualTo(ExitCodes.USAGE);

        Result request = run("request", "--url", url, topic, "x", "--timeout", "0");
        assertThat(request.exit()).as(request.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(request.err()).doesNotContain("IllegalArgumentException");

        Result list = run("dlq", "list", "--url", url, topic + ".g.dlq", "--timeout", "0");
        assertThat(list.exit()).as(list.toString()).isEqualTo(ExitCodes.USAGE);

        Result redriveLimit = run("dlq", "redrive", "--url", url, topic + ".g.dlq", "--limit", "0");
        assertThat(redriveLimit.exit()).as(redriveLimit.toString()).isEqualTo(ExitCodes.USAGE);

        Result redriveTimeout = run("dlq", "redrive", "--url", url, topic + ".g.dlq", "--timeout", "0");
        assertThat(redriveTimeout.exit()).as(redriveTimeout.toString()).isEqualTo(ExitCodes.USAGE);
    }
}
