package dev.courier.testkit;

import dev.courier.BrokerUnavailableException;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Finds a real broker for tests, in this order:
 * <ol>
 *   <li>the URL in the system property {@code courier.test.<broker>.url}, else in the environment
 *       variable {@code COURIER_TEST_<BROKER>_URL}: used as given, and if it does not answer the
 *       search fails (it never falls back to another broker than the one asked for);</li>
 *   <li>the broker's default port on loopback ({@code amqp://guest:guest@127.0.0.1:5672/},
 *       {@code nats://127.0.0.1:4222}, {@code kafka://127.0.0.1:9092});</li>
 *   <li>a Testcontainers container, when Testcontainers is on the classpath (it is an optional
 *       dependency of the testkit) and a Docker engine answers;</li>
 *   <li>an embedded broker, when one was plugged in with {@link #embedded(Supplier)}.</li>
 * </ol>
 * When none answers, {@link #locate()} throws a {@link BrokerUnavailableException} that says how to
 * start the broker: a missing broker fails the test, it is never a silent skip.
 *
 * <pre>{@code
 * static final BrokerFixture RABBIT = BrokerLocator.rabbitmq().locateShared();
 * static final BrokerFixture KAFKA = BrokerLocator.kafka().locateShared();   // falls back to the embedded broker
 * }</pre>
 *
 * <p>A locator is a mutable builder and not thread-safe; {@link #locateShared()} is.
 */
public final class BrokerLocator {

    /** Image, port, environment, command and URL template of a broker container. */
    public record ContainerSpec(String image, int port, Map<String, String> env, List<String> command, String urlTemplate,
                                String readyLogRegex) {
        /**
         * @param urlTemplate {@link String#format} pattern receiving the host ({@code %1$s}) and mapped port ({@code %2$d})
         * @param readyLogRegex a log line that says the broker is ready, or {@code null} to wait for the port only
         */
        public ContainerSpec {
            Objects.requireNonNull(image, "image");
            Objects.requireNonNull(urlTemplate, "urlTemplate");
            env = Map.copyOf(env);
            command = List.copyOf(command);
        }

        String url(String host, int mappedPort) {
            return String.format(Locale.ROOT, urlTemplate, host, mappedPort);
        }
    }

    private static final Map<String, BrokerFixture> SHARED = new ConcurrentHashMap<>();

    private final String broker;
    private final String displayName;
    private final String loopbackUrl;
    private final String startHint;
    private ContainerSpec container;
    private Supplier<? extends BrokerFixture> embedded;
    private Map<String, String> config = Map.of();
    private Map<String, String> env = System.getenv();
    private Properties systemProperties = System.getProperties();
    private Duration probeTimeout = Duration.ofSeconds(1);
    private boolean containers = true;

    /**
     * A locator for {@code broker} (lower case, e.g. {@code rabbitmq}; it names the variables
     * {@code COURIER_TEST_RABBITMQ_URL} and {@code courier.test.rabbitmq.url}).
     *
     * @param displayName the broker's name in messages, e.g. {@code RabbitMQ}
     * @param loopbackUrl the URL of a broker on its default loopback port
     * @param startHint   how to start one, e.g. {@code scripts/brokers.sh or `rabbitmq-server -detached`}
     */
    public BrokerLocator(String broker, String displayName, String loopbackUrl, String startHint) {
        this.broker = Objects.requireNonNull(broker, "broker").toLowerCase(Locale.ROOT);
        this.displayName = Objects.requireNonNull(displayName, "displayName");
        this.loopbackUrl = Objects.requireNonNull(loopbackUrl, "loopbackUrl");
        this.startHint = Objects.requireNonNull(startHint, "startHint");
    }

    /** RabbitMQ: {@code amqp://guest:guest@127.0.0.1:5672/}, container {@code rabbitmq:4-alpine}. */
    public static BrokerLocator rabbitmq() {
        return new BrokerLocator("rabbitmq", "RabbitMQ", "amqp://guest:guest@127.0.0.1:5672/",
                "scripts/brokers.sh start rabbitmq or `rabbitmq-server -detached`")
                // guest may only log in from localhost, and a container's clients are not local to it
                .container(new ContainerSpec("rabbitmq:4-alpine", 5672,
                        Map.of("RABBITMQ_DEFAULT_USER", "courier", "RABBITMQ_DEFAULT_PASS", "courier"), List.of(),
                        "amqp://courier:courier@%s:%d/", ".*Server startup complete.*"));
    }

    /** NATS with JetStream: {@code nats://127.0.0.1:4222}, container {@code nats:2-alpine -js}. */
    public static BrokerLocator nats() {
        return new BrokerLocator("nats", "NATS", "nats://127.0.0.1:4222", "scripts/brokers.sh start nats or `nats-server -js`")
                .container(new ContainerSpec("nats:2-alpine", 4222, Map.of(), List.of("-js"), "nats://%s:%d", ".*Server is ready.*"));
    }

    /**
     * Kafka: {@code kafka://127.0.0.1:9092}, else the testkit's embedded broker
     * ({@link dev.courier.testkit.kafka.EmbeddedKafka#shared()}) when Kafka's jars
     * ({@code kafka-clients} and {@code kafka_2.13}, optional dependencies of the testkit) are on
     * the classpath. No container is configured: a Kafka container must advertise its mapped port,
     * which a generic container cannot. Replace the starter with {@link #embedded(Supplier)}.
     */
    public static BrokerLocator kafka() {
        BrokerLocator locator = new BrokerLocator("kafka", "Kafka", "kafka://127.0.0.1:9092",
                "scripts/kafka.sh start (or add org.apache.kafka:kafka_2.13 to the test classpath for the embedded broker)");
        if (EmbeddedKafkaStarter.available()) {
            locator.embedded(EmbeddedKafkaStarter::shared);
        }
        return locator;
    }

    /** The container to start when no broker answers on loopback; {@code null} for none. */
    public BrokerLocator container(ContainerSpec spec) {
        this.container = spec;
        return this;
    }

    /** Turns the Testcontainers step off (on by default when Testcontainers is on the classpath). */
    public BrokerLocator withoutContainers() {
        this.containers = false;
        return this;
    }

    /** The last resort: starts an embedded broker (e.g. the testkit's embedded Kafka). */
    public BrokerLocator embedded(Supplier<? extends BrokerFixture> embedded) {
        this.embedded = embedded;
        return this;
    }

    /** Extra Courier settings every located fixture carries. */
    public BrokerLocator config(Map<String, String> config) {
        this.config = Map.copyOf(config);
        return this;
    }

    /** Reads {@code COURIER_TEST_*} variables from {@code env} instead of the process environment. */
    public BrokerLocator environment(Map<String, String> env) {
        this.env = Map.copyOf(env);
        return this;
    }

    /** Reads {@code courier.test.*} properties from {@code props} instead of the JVM's. */
    public BrokerLocator systemProperties(Properties props) {
        this.systemProperties = Objects.requireNonNull(props, "props");
        return this;
    }

    /** How long a TCP probe of a port waits; default 1 s. */
    public BrokerLocator probeTimeout(Duration timeout) {
        this.probeTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** {@code COURIER_TEST_<BROKER>_URL}. */
    public String environmentVariable() {
        return "COURIER_TEST_" + broker.toUpperCase(Locale.ROOT).replace('-', '_') + "_URL";
    }

    /** {@code courier.test.<broker>.url}. */
    public String systemProperty() {
        return "courier.test." + broker + ".url";
    }

    /**
     * Like {@link #locate()}, but once per broker name and JVM: later calls return the same
     * fixture, and what it started is stopped when the JVM exits.
     */
    public BrokerFixture locateShared() {
        return SHARED.computeIfAbsent(broker, b -> {
            BrokerFixture f = locate();
            Runtime.getRuntime().addShutdownHook(new Thread(f::close, "courier-test-" + b + "-stop"));
            return f;
        });
    }

    /** Finds or starts the broker; see the class comment for the order. */
    public BrokerFixture locate() {
        List<String> tried = new ArrayList<>();

        String configured = systemProperties.getProperty(systemProperty());
        String source = systemProperty();
        if (configured == null || configured.isBlank()) {
            configured = env.get(environmentVariable());
            source = environmentVariable();
        }
        if (configured != null && !configured.isBlank()) {
            String url = configured.trim();
            String problem = probe(url);
            if (problem == null) {
                return new Located(broker + " (" + source + ")", url, config, () -> { });
            }
            throw new BrokerUnavailableException(displayName + " is not reachable at " + CourierConfig.maskUrl(url) + " (from " + source
                    + ": " + problem + "); start it with " + startHint + ", or point " + source + " at a running broker", null);
        }
        tried.add(environmentVariable() + " and " + systemProperty() + " are not set");

        String loopback = hostPort(loopbackUrl);
        String problem = probe(loopbackUrl);
        if (problem == null) {
            return new Located(broker + " (loopback)", loopbackUrl, config, () -> { });
        }
        tried.add(loopback + ": " + problem);

        if (containers && container != null) {
            String containerProblem = containerProblem();
            if (containerProblem == null) {
                try {
                    return ContainerBroker.start(broker, container, config);
                } catch (RuntimeException e) {
                    tried.add("Testcontainers " + container.image() + ": " + e);
                }
            } else {
                tried.add("Testcontainers: " + containerProblem);
            }
        }

        if (embedded != null) {
            try {
                BrokerFixture f = embedded.get();
                if (f != null) {
                    return config.isEmpty() ? f : withConfig(f, config);
                }
                tried.add("embedded " + displayName + ": the starter returned nothing");
            } catch (RuntimeException e) {
                tried.add("embedded " + displayName + ": " + e);
            }
        }

        throw new BrokerUnavailableException(displayName + " is not reachable on " + loopback + "; start it with " + startHint
                + ", or set " + environmentVariable() + " (tried: " + String.join("; ", tried) + ")", null);
    }

    /** {@code f} with the locator's settings under its own. */
    private static BrokerFixture withConfig(BrokerFixture f, Map<String, String> config) {
        Map<String, String> merged = new LinkedHashMap<>(config);
        merged.putAll(f.config());
        return new Located(f.name(), f.url(), merged, f::close);
    }

    /** Why Testcontainers cannot run here, or {@code null} if it can. */
    private static String containerProblem() {
        try {
            Class.forName("org.testcontainers.DockerClientFactory", false, BrokerLocator.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "not on the classpath";
        }
        try {
            // only touched once Testcontainers is known to be present, so this class loads without it
            return ContainerBroker.dockerAvailable() ? null : "no Docker engine answers";
        } catch (RuntimeException | LinkageError e) {
            return "cannot reach Docker: " + e;
        }
    }

    /** {@code null} when something accepts TCP connections at the URL's first reachable host, else why not. */
    private String probe(String url) {
        List<BrokerUrl.HostPort> hosts;
        int defaultPort;
        try {
            BrokerUrl parsed = BrokerUrl.parse(url);
            hosts = parsed.hosts();
            defaultPort = defaultPort(parsed.scheme());
        } catch (RuntimeException e) {
            return "not a valid broker URL: " + e.getMessage();
        }
        String last = "no host in the URL";
        for (BrokerUrl.HostPort hp : hosts) {
            int port = hp.portOr(defaultPort);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(hp.host(), port), (int) probeTimeout.toMillis());
                return null;
            } catch (IOException e) {
                last = hp.host() + ":" + port + " " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            }
        }
        return last;
    }

    private String hostPort(String url) {
        BrokerUrl parsed = BrokerUrl.parse(url);
        BrokerUrl.HostPort hp = parsed.hosts().get(0);
        return hp.host() + ":" + hp.portOr(defaultPort(parsed.scheme()));
    }

    private static int defaultPort(String scheme) {
        return switch (scheme) {
            case "amqp" -> 5672;
            case "amqps" -> 5671;
            case "nats", "tls" -> 4222;
            case "kafka" -> 9092;
            default -> -1;
        };
    }

    /** A broker found by the locator. */
    static final class Located implements BrokerFixture {
        private final String name;
        private final String url;
        private final Map<String, String> config;
        private final Runnable stop;

        Located(String name, String url, Map<String, String> config, Runnable stop) {
            this.name = name;
            this.url = url;
            this.config = new LinkedHashMap<>(config);
            this.stop = stop;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String url() {
            return url;
        }

        @Override
        public Map<String, String> config() {
            return Map.copyOf(config);
        }

        @Override
        public void close() {
            stop.run();
        }

        @Override
        public String toString() {
            return name + " at " + CourierConfig.maskUrl(url);
        }
    }
}
