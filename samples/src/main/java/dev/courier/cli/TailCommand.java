package dev.courier.cli;

import dev.courier.Capabilities;
import dev.courier.StartPosition;
import picocli.CommandLine.Command;

/** {@code courier tail <topic>}: follows new messages, broadcast, until Ctrl-C. */
@Command(name = "tail", mixinStandardHelpOptions = true,
        description = {"Follow a topic: print every new message as a JSON line until Ctrl-C (or -n, --timeout).",
                "Broadcast by default, so it takes no message away from any group; starts at the latest message unless --from."})
final class TailCommand extends SubscribeCommand {

    @Override
    StartPosition defaultStart(Capabilities capabilities, String group) {
        return StartPosition.latest(); // also for a group's first run: tail never prints what was there before it started
    }
}
