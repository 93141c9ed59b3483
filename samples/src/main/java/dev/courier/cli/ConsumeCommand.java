package dev.courier.cli;

import dev.courier.Capabilities;
import dev.courier.StartPosition;
import picocli.CommandLine.Command;

/** {@code courier consume <topic>}: reads what the topic holds (where the broker can replay) and what arrives. */
@Command(name = "consume", mixinStandardHelpOptions = true,
        description = {"Print messages of a topic as JSON lines (id, topic, key, headers, payload, attempt, position).",
                "Payloads that are UTF-8 are printed as text, others in base64 (payloadEncoding says which). Without --from it "
                        + "starts at the earliest retained message where the broker can replay, else at the latest; it follows new "
                        + "messages until -n, --timeout or Ctrl-C."})
final class ConsumeCommand extends SubscribeCommand {

    @Override
    StartPosition defaultStart(Capabilities capabilities, String group) {
        // a group's first run starts at the earliest message it can (the binding's default for groups)
        return group != null ? StartPosition.defaults() : replayIfPossible(capabilities);
    }
}
