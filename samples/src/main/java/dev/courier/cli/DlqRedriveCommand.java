package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.reliability.deadletter.DeadLetter;
import dev.courier.reliability.deadletter.DeadLetters;
import dev.courier.reliability.deadletter.Redrive;
import dev.courier.reliability.deadletter.RedriveResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/** {@code courier dlq redrive <dlq-topic>}: publishes dead letters back, each acked only once its publish was confirmed. */
@Command(name = "redrive", mixinStandardHelpOptions = true,
        description = {"Publish dead letters back to their original topic (or --to), without the failure headers and with a new id;"
                + " a dead letter leaves the dead-letter topic only once its publish was confirmed.",
                "Dead letters not selected by --filter-exception stay. Prints the counts; exit code 1 if some could not be "
                        + "redriven (they stay too)."})
final class DlqRedriveCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @ParentCommand
    DlqCommand dlq;

    @Mixin
    ConnectOptions connection;

    @Parameters(index = "0", paramLabel = "<dlq-topic>", description = "The dead-letter topic, e.g. orders.billing.dlq.")
    String topic;

    @Option(names = "--to", paramLabel = "<topic>", description = "Publish to this topic instead of each dead letter's original topic.")
    String to;

    @Option(names = "--filter-exception", paramLabel = "<class>",
            description = "Only dead letters whose exception class is this (fully qualified, or the simple name).")
    String exceptionClass;

    @Option(names = {"-n", "--limit"}, paramLabel = "<N>", description = "Look at most at N dead letters. Default: all (up to "
            + Redrive.DEFAULT_LIMIT + ").")
    Integer limit;

    @Option(names = "--timeout", paramLabel = "<duration>", converter = Converters.DurationConverter.class,
            description = "Stop after this long without a new dead letter. Default: 5s.")
    Duration idle;

    @Option(names = {"-g", "--group"}, paramLabel = "<group>",
            description = "The redrive group; it remembers where the last redrive stopped. Default: " + DeadLetters.DEFAULT_GROUP + ".")
    String group = DeadLetters.DEFAULT_GROUP;

    @Option(names = "--json", description = "Print the result as one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        CourierCli cli = dlq.cli;
        if (limit != null && limit < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "-n/--limit must be 1 or more, was " + limit);
        }
        Redrive r = Redrive.from(topic);
        if (to != null) {
            r = r.to(to);
        }
        if (exceptionClass != null) {
            r = r.filter(exceptionIs(exceptionClass));
        }
        if (limit != null) {
            r = r.limit(limit);
        }
        if (idle != null) {
            r = r.idleTimeout(idle);
        }
        RedriveResult result;
        try (Courier courier = connection.connect(cli)) {
            result = DeadLetters.of(courier, group).redrive(r);
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("redriven", result.redriven());
            m.put("skipped", result.skipped());
            m.put("failed", result.failed());
            m.put("failures", result.failures());
            cli.out().println(JsonLines.write(m));
        } else {
            cli.out().println("redriven=" + result.redriven() + " skipped=" + result.skipped() + " failed=" + result.failed());
        }
        cli.out().flush();
        if (result.failed() > 0) {
            Map.Entry<String, String> first = result.failures().entrySet().iterator().next();
            throw new CliFailure(ExitCodes.ERROR, result.failed() + " dead letter(s) could not be redriven and stay in '" + topic
                    + "'; first: " + first.getKey() + ": " + first.getValue());
        }
        return ExitCodes.OK;
    }

    /** Matches the exception class by its full name or its simple name. */
    static Predicate<DeadLetter> exceptionIs(String cls) {
        return dl -> {
            String ec = dl.exceptionClass();
            return ec != null && (ec.equals(cls) || ec.endsWith("." + cls) || ec.endsWith("$" + cls));
        };
    }
}
