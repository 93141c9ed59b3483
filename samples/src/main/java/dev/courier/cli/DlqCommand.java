package dev.courier.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code courier dlq ...}: inspect and redrive dead letters. */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Inspect dead-letter topics (<topic>.<group>.dlq by default).",
        subcommands = {DlqListCommand.class},
        synopsisSubcommandLabel = "<list>")
final class DlqCommand implements Runnable {

    @ParentCommand
    CourierCli cli;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing dlq verb: list");
    }
}
