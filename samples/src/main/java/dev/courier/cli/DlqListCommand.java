package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.reliability.deadletter.DeadLetter;
import dev.courier.reliability.deadletter.DeadLetters;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code courier dlq list <dlq-topic>}: prints the pending dead letters without taking them. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"Print the pending dead letters of a dead-letter topic as JSON lines.",
                "Each line has the message (id, key, headers, payload) and its failure (reason, exceptionClass, exceptionMessage,"
                        + " originalTopic, originalGroup, attempts, deadLetteredAt).",
                "Consumes nothing: every dead letter is given back unacknowledged. Stops after --limit or --timeout without a "
                        + "new one."})
final class DlqListCommand implements Callable<Integer> {

    @ParentCommand
    DlqCommand dlq;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ConnectOptions connection;

    @Parameters(index = "0", paramLabel = "<dlq-topic>", description = "The dead-letter topic, e.g. orders.billing.dlq.")
    String topic;

    @Option(names = {"-n", "--limit"}, paramLabel = "<N>", description = "List at most N (1 to 10000). Default: ${DEFAULT-VALUE}.")
    int limit = 100;

    @Option(names = "--timeout", paramLabel = "<duration>", converter = Converters.DurationConverter.class,
            description = "Stop after this long without a new dead letter. Default: 5s.")
    Duration idle = Duration.ofSeconds(5);

    @Option(names = {"-g", "--group"}, paramLabel = "<group>",
            description = "The redrive group whose pending dead letters to list. Default: " + DeadLetters.DEFAULT_GROUP + ".")
    String group = DeadLetters.DEFAULT_GROUP;

    @Override
    public Integer call() {
        CourierCli cli = dlq.cli;
        if (limit < 1 || limit > DeadLetters.MAX_LIST) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--limit must be between 1 and " + DeadLetters.MAX_LIST + ", was " + limit);
        }
        try (Courier courier = connection.connect(cli)) {
            List<DeadLetter> letters = DeadLetters.of(courier, group).list(topic, limit, idle);
            for (DeadLetter dl : letters) {
                cli.out().println(json(dl));
            }
            cli.out().flush();
        }
        return ExitCodes.OK;
    }

    static String json(DeadLetter dl) {
        Map<String, Object> m = JsonLines.message(dl.message());
        m.put("reason", dl.reason());
        m.put("exceptionClass", dl.exceptionClass());
        m.put("exceptionMessage", dl.exceptionMessage());
        m.put("originalTopic", dl.originalTopic());
        m.put("originalGroup", dl.originalGroup());
        m.put("attempts", dl.attempts());
        m.put("deadLetteredAt", dl.deadLetteredAt().map(Object::toString).orElse(null));
        m.put("originalPosition", dl.position());
        return JsonLines.write(m);
    }
}
