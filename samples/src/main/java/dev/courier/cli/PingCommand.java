package dev.courier.cli;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code courier ping}: connects once and says what answered. */
@Command(name = "ping", mixinStandardHelpOptions = true,
        description = {"Connect once and print the binding, masked URL, connect time and capabilities.",
                "The capabilities are rows of the table in docs/capabilities.md. Fails with exit code 3 when the broker cannot "
                        + "be reached or refuses the credentials (the password is masked in every message)."})
final class PingCommand implements Callable<Integer> {

    @ParentCommand
    CourierCli cli;

    @Mixin
    ConnectOptions connection;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        try (Courier courier = connection.connect(cli)) {
            long first = System.nanoTime() - start;
            // the first connect of a process also loads the client's classes; a second one is the broker round trips
            long again = System.nanoTime();
            connection.connect(cli).close();
            long second = System.nanoTime() - again;
            Capabilities caps = courier.capabilities();
            PrintStream out = cli.out();
            out.println("binding:  " + caps.displayName());
            out.println("url:      " + CourierConfig.maskUrl(courier.url()));
            out.println("connect:  " + millis(second) + " (first connect in this process: " + millis(first) + ")");
            if (caps.binding().equals("mem")) {
                out.println("note:     mem:// is a broker inside this process; other courier commands cannot reach it");
            }
            out.println();
            out.println("| Capability | Guarantee | " + caps.displayName() + " |");
            out.println("| --- | --- | :-: |");
            for (Capability c : Capability.values()) {
                out.println("| `" + c.name() + "` | " + c.description() + " | " + (caps.supports(c) ? "yes" : "no") + " |");
            }
            out.println("| Largest payload | With the default configuration. | " + size(caps.maxPayloadBytes()) + " |");
        }
        return ExitCodes.OK;
    }

    static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
    }

    /** 1048576 -> 1 MiB, 1024000 -> 1000 KiB, as in docs/capabilities.md. */
    static String size(long bytes) {
        if (bytes <= 0 || bytes == Long.MAX_VALUE) {
            return "unbounded";
        }
        long mib = 1024L * 1024;
        if (bytes % mib == 0) {
            return bytes / mib + " MiB";
        }
        if (bytes % 1024 == 0) {
            return bytes / 1024 + " KiB";
        }
        if (bytes % 1_000_000 == 0) {
            return bytes / 1_000_000 + " MB";
        }
        return bytes + " bytes";
    }
}
