package dev.courier.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code courier dlq ...}: inspect and redrive dead letters. */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "List and redrive dead letters (dead-letter topics are <topic>.<group>.dlq by default).",
        subcommands = {DlqListCommand.class, DlqRedriveCommand.class},
        synopsisSubcommandLabel = "(list | redrive)")
final class DlqCommand implements Runnable {

    @ParentCommand
    CourierCli cli;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing dlq verb: list or redrive");
    }
}
