package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.Message;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code courier request <topic> [payload]}: sends a request and prints the reply. */
@Command(name = "request", mixinStandardHelpOptions = true,
        description = {"Send a request and print the reply's payload (text as is, binary as raw bytes), or the reply as JSON with --json.",
                "No responder, a timeout and a failed responder end with distinct exit codes (5, 4, 6)."})
final class RequestCommand implements Callable<Integer> {

    @ParentCommand
    CourierCli cli;

    @Spec
    CommandSpec spec;

    @Mixin
    ConnectOptions connection;

    @Mixin
    MessageOptions message;

    @Parameters(index = "0", paramLabel = "<topic>", description = "Topic the responders listen on.")
    String topic;

    @Parameters(index = "1", arity = "0..1", paramLabel = "<payload>", description = "The request payload as text; - reads standard input.")
    String payload;

    @Option(names = "--timeout", paramLabel = "<duration>", converter = Converters.DurationConverter.class,
            description = "How long to wait for the reply (e.g. 5s). Default: courier.request.timeout (30s).")
    Duration timeout;

    @Option(names = "--json", description = "Print the reply as a JSON object (id, headers, payload, ...).")
    boolean json;

    @Override
    public Integer call() {
        byte[] bytes = message.payload(spec, cli, payload);
        try (Courier courier = connection.connect(cli)) {
            Duration t = timeout != null ? timeout : courier.config().requestTimeout();
            Message reply = courier.requester().request(message.message(topic, bytes), t).toCompletableFuture().join();
            if (json) {
                cli.out().println(JsonLines.write(JsonLines.message(reply)));
            } else {
                byte[] body = reply.payload();
                String text = MessageOptions.utf8(body);
                if (text != null) {
                    cli.out().println(text);
                } else {
                    cli.out().write(body, 0, body.length);
                }
            }
            cli.out().flush();
        }
        return ExitCodes.OK;
    }
}
