package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.Message;
import dev.courier.PublishReceipt;
import dev.courier.Publisher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;

/** {@code courier publish <topic> [payload]}: publishes and prints the broker's receipt once it confirmed. */
@Command(name = "publish", mixinStandardHelpOptions = true,
        description = {"Publish a message and wait for the broker's confirm; prints the receipt (id, position).",
                "The payload is the argument, --file, or standard input (- or no payload with input piped in)."})
final class PublishCommand implements Callable<Integer> {

    /** Publishes pipelined with --lines, at most this many unconfirmed at a time. */
    static final int MAX_OUTSTANDING = 1000;

    @ParentCommand
    CourierCli cli;

    @Spec
    CommandSpec spec;

    @Mixin
    ConnectOptions connection;

    @Mixin
    MessageOptions message;

    @Parameters(index = "0", paramLabel = "<topic>", description = "Topic to publish to.")
    String topic;

    @Parameters(index = "1", arity = "0..1", paramLabel = "<payload>", description = "The payload as text; - reads standard input.")
    String payload;

    @Option(names = "--lines", description = "Publish one message per line of standard input (or of --file); empty lines are skipped.")
    boolean lines;

    @Option(names = "--json", description = "Print each receipt as a JSON object on its own line.")
    boolean json;

    @Override
    public Integer call() {
        if (lines) {
            InputStream source = message.lineSource(spec, cli, payload);
            try (Courier courier = connection.connect(cli)) {
                warnIfInProcess(courier);
                publishLines(courier.publisher(), source);
            }
            return ExitCodes.OK;
        }
        byte[] bytes = message.payload(spec, cli, payload);
        try (Courier courier = connection.connect(cli)) {
            warnIfInProcess(courier);
            Message m = message.message(topic, bytes);
            print(courier.publisher().publish(m).toCompletableFuture().join());
        }
        return ExitCodes.OK;
    }

    /** Pipelines the publishes but prints the receipts in input order, each once its message is confirmed. */
    private void publishLines(Publisher publisher, InputStream source) {
        Deque<CompletableFuture<PublishReceipt>> pending = new ArrayDeque<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(source, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isEmpty()) {
                    continue;
                }
                pending.add(publisher.publish(message.message(topic, line.getBytes(StandardCharsets.UTF_8))).toCompletableFuture());
                while (pending.size() >= MAX_OUTSTANDING || (!pending.isEmpty() && pending.peek().isDone())) {
                    print(pending.remove().join());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the lines to publish failed after " + pending.size() + " were sent", e);
        } finally {
            // whatever happens, report every message that was handed to the broker
            while (!pending.isEmpty()) {
                print(pending.remove().join());
            }
        }
    }

    private void warnIfInProcess(Courier courier) {
        if (courier.capabilities().binding().equals("mem")) {
            cli.err().println("note: " + courier.url() + " is a broker inside this process; give --url or COURIER_URL to reach a real one");
        }
    }

    private void print(PublishReceipt r) {
        if (json) {
            cli.out().println(JsonLines.receipt(r));
        } else {
            String position = r.position().position();
            cli.out().println("published id=" + r.messageId() + " topic=" + r.topic() + (position.isEmpty() ? "" : " " + position)
                    + (r.duplicate() ? " duplicate" : ""));
        }
    }
}
