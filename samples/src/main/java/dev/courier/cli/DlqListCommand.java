package dev.courier.cli;

import dev.courier.Capabilities;
import dev.courier.StartPosition;
import picocli.CommandLine.Command;

import java.time.Duration;

/** {@code courier dlq list <dlq-topic>}: prints the dead letters a topic holds, without taking them. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"Print the dead letters of a dead-letter topic as JSON lines, with their failure headers",
                "(courier-dlq-reason, courier-dlq-exception, courier-dlq-original-topic, ...). Reads broadcast, so nothing is taken",
                "away; starts at the earliest retained message and stops after -n (default 100) or 5 s without a message."})
final class DlqListCommand extends SubscribeCommand {

    static final int DEFAULT_MAX = 100;
    static final Duration DEFAULT_IDLE = Duration.ofSeconds(5);

    @Override
    void applyDefaults() {
        if (count == null) {
            count = DEFAULT_MAX;
            endsEarlyOk = true;
        }
        if (idleTimeout == null) {
            idleTimeout = DEFAULT_IDLE;
        }
    }

    @Override
    StartPosition defaultStart(Capabilities capabilities) {
        return StartPosition.earliest();
    }
}
