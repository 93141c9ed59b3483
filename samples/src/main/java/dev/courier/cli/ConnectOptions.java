package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;

/** Options of every verb that connects: the broker URL, extra settings and verbosity. */
final class ConnectOptions {

    @Option(names = {"-u", "--url"}, paramLabel = "<url>",
            description = {"Broker URL: mem://, kafka://host:9092, amqp://user:pass@host:5672/, nats://host:4222.",
                    "Default: courier.url from -Dcourier.url, the COURIER_URL environment variable or courier.properties,"
                            + " else mem:// (an in-process broker: useless across separate courier commands)."})
    String url;

    @Option(names = {"-s", "--set"}, paramLabel = "<key=value>",
            description = "A Courier setting, e.g. --set courier.connect.timeout=5s or a binding key (courier.kafka.*); repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = {"-v", "--verbose"}, description = "Log what the client does and print stack traces of errors.")
    boolean verbose;

    /** The configuration: environment (COURIER_*), system properties and courier.properties, then --set, then --url. */
    CourierConfig config(CourierCli cli) {
        CourierConfig.Builder b = CourierConfig.builder().environment(cli.environment());
        settings.forEach(b::set);
        if (url != null) {
            b.url(url);
        }
        return b.build();
    }

    /** Connects, and registers the Courier with {@code cli} so Ctrl-C closes it cleanly. */
    Courier connect(CourierCli cli) {
        Courier courier = Courier.builder().config(config(cli)).connect();
        cli.opened(courier);
        return courier;
    }
}
