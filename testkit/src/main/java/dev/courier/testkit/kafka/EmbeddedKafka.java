package dev.courier.testkit.kafka;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;

/**
 * A real, single-node Apache Kafka broker for tests, samples and local runs.
 *
 * <p>The broker runs in KRaft combined mode ({@code process.roles=broker,controller}) with the
 * {@code kafka_2.13} server jars of the Kafka version this project is built against. It listens on
 * loopback only: {@code PLAINTEXT://127.0.0.1:<port>} for clients and a second free port for the
 * controller quorum. Settings are tuned for one node and a fast start (replication factors of 1,
 * no initial rebalance delay, few internal-topic partitions, small buffers and segments).
 *
 * <h2>Why a child process and not an in-JVM server</h2>
 * The broker is started as a separate JVM, launched with the classpath of the current JVM and
 * {@link #main(String[])} as entry point, which formats the storage directory and then runs
 * {@code kafka.Kafka}. Starting {@code KafkaRaftServer} inside the test JVM would be about a
 * second faster, but a child process was chosen because:
 * <ul>
 *   <li>fault tests get real failures: {@link #kill()} sends {@code SIGKILL}, so the broker dies
 *       without flushing or closing sockets, and {@link #start()} afterwards runs Kafka's real log
 *       recovery on the same data directory and ports. An in-JVM broker cannot be killed like that
 *       and does not release all of its threads and static state when stopped;</li>
 *   <li>the broker's hundred-odd threads, its Scala runtime, its metrics and its logging stay out
 *       of the test JVM: the log goes to {@link #logFile()}, and the test JVM's own logging
 *       configuration and heap are not affected;</li>
 *   <li>the same entry point runs a broker by hand ({@code scripts/kafka.sh}), so tests and humans
 *       start the broker in exactly the same way.</li>
 * </ul>
 * The child JVM is kept small ({@code -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}, see
 * {@link Builder#jvmOptions(List)}); it watches the JVM that started it and exits if that one
 * dies, so a killed test run leaves no broker (and no temporary directory) behind.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * // one broker per test JVM, started on first use, stopped at JVM exit
 * String bootstrap = EmbeddedKafka.shared().bootstrapServers();
 *
 * // a private broker, e.g. for fault tests
 * try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(1).build().start()) {
 *     kafka.kill();      // hard stop (SIGKILL)
 *     kafka.start();     // same ports, same data directory
 * }
 * }</pre>
 * Prefer {@link KafkaFixture#resolve()} in tests: it honours {@code COURIER_TEST_KAFKA_URL}.
 *
 * <h2>Dependencies and logging</h2>
 * {@code kafka_2.13} and {@code kafka-clients} are optional dependencies of courier-testkit: a
 * module that uses this class declares {@code org.apache.kafka:kafka_2.13} (test scope; the
 * version is managed by the Courier parent) in addition to courier-testkit. The broker process
 * logs through SLF4J with whatever binding is on the test classpath (slf4j-simple works well; with
 * none it prints only its own status lines) into {@link #logFile()}.
 *
 * <p>Measured on a 2-core machine: a cold broker process answers requests about 3 to 5 s after
 * launch and uses about 160 MB resident memory with the default JVM options. A restart after
 * {@link #kill()} takes a few seconds longer: the controller waits for the killed incarnation's
 * session ({@code broker.session.timeout.ms}, set to 4 s here) to expire.
 *
 * <p>To run a broker by hand: {@code scripts/kafka.sh start}, or
 * {@code java -cp <testkit classpath> dev.courier.testkit.kafka.EmbeddedKafka --port 9092 --dir /tmp/kafka}.
 */
public final class EmbeddedKafka implements AutoCloseable {

    /** Printed by {@link #main(String[])} once the broker answers requests. */
    static final String READY_LINE_PREFIX = "COURIER KAFKA READY ";

    static final String HOST = "127.0.0.1";
    static final String LOG_FILE_NAME = "broker.log";
    static final String DATA_DIR_NAME = "data";
    static final String PROPERTIES_FILE_NAME = "server.properties";

    /** Default JVM options of the broker process: small and quick to start on a 2-core machine. */
    public static final List<String> DEFAULT_JVM_OPTIONS = List.of(
            "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData", "-Djava.awt.headless=true");

    /** System property: the broker process's classpath instead of this JVM's. */
    public static final String CLASSPATH_PROPERTY = "courier.kafka.classpath";
    /** System property: the broker process's JVM options, separated by spaces, instead of the defaults. */
    public static final String JVM_OPTIONS_PROPERTY = "courier.kafka.jvmOptions";

    private static final System.Logger LOG = System.getLogger(EmbeddedKafka.class.getName());
    private static final int MAX_BIND_ATTEMPTS = 3;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final Builder config;
    private final Path baseDir;
    private final boolean ownsBaseDir;
    private final String clusterId;
    private final boolean portsFixed;
    private int port;
    private int controllerPort;
    private volatile Process process;
    private volatile boolean closed;

    private EmbeddedKafka(Builder builder) {
        this.config = builder.copy();
        try {
            if (builder.dir != null) {
                this.baseDir = builder.dir.toAbsolutePath();
                Files.createDirectories(baseDir);
                this.ownsBaseDir = false;
            } else {
                this.baseDir = Files.createTempDirectory("courier-kafka-");
                this.ownsBaseDir = true;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the Kafka broker directory", e);
        }
        this.clusterId = Uuid.randomUuid().toString();
        this.portsFixed = builder.port != 0 && builder.controllerPort != 0;
        this.port = builder.port != 0 ? builder.port : freePort();
        this.controllerPort = builder.controllerPort != 0 ? builder.controllerPort : freePort(port);
    }

    // ------------------------------------------------------------------ shared instance

    private static final class Shared {
        static final EmbeddedKafka INSTANCE = createShared();

        private static EmbeddedKafka createShared() {
            EmbeddedKafka kafka = builder().build();
            Runtime.getRuntime().addShutdownHook(new Thread(kafka::closeQuietly, "courier-kafka-shutdown"));
            return kafka;
        }
    }

    /**
     * The broker shared by everything in this JVM: started on first call (and again if something
     * stopped it), stopped and deleted by a JVM shutdown hook. Do not stop or kill it in a test;
     * build a private one for fault tests.
     */
    public static EmbeddedKafka shared() {
        EmbeddedKafka kafka = Shared.INSTANCE;
        kafka.start();
        return kafka;
    }

    /** A builder for a private broker; nothing starts until {@link #start()}. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Starts the broker process, if it is not running, and returns once the broker answers an
     * Admin {@code describeCluster} request. Uses the same ports and data directory every time.
     *
     * @throws IllegalStateException if the broker does not come up within the startup timeout;
     *     the message holds the tail of the broker log
     */
    public synchronized EmbeddedKafka start() {
        if (closed) {
            throw new IllegalStateException("this EmbeddedKafka is closed");
        }
        if (isRunning()) {
            return this;
        }
        long started = System.nanoTime();
        for (int attempt = 1; ; attempt++) {
            try {
                launchAndAwait();
                LOG.log(System.Logger.Level.INFO, "Kafka broker ready on {0} in {1} ms (pid {2}, log {3})",
                        bootstrapServers(), Long.toString(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)),
                        Long.toString(process.pid()), logFile());
                return this;
            } catch (BindFailure e) {
                if (portsFixed || attempt >= MAX_BIND_ATTEMPTS) {
                    throw new IllegalStateException(e.getMessage() + startupHelp(), e);
                }
                // another process took one of the free ports we picked: pick new ones
                port = config.port != 0 ? config.port : freePort();
                controllerPort = config.controllerPort != 0 ? config.controllerPort : freePort(port);
            }
        }
    }

    /**
     * Stops the broker gracefully (SIGTERM; Kafka shuts down cleanly) and waits for the process to
     * end. The data directory is kept. Does nothing if the broker is not running.
     */
    public synchronized void stop() {
        Process p = process;
        if (p == null) {
            return;
        }
        long started = System.nanoTime();
        p.destroy();
        try {
            if (!p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "Kafka broker on {0} did not stop within {1} s: killing it",
                        bootstrapServers(), STOP_TIMEOUT.toSeconds());
                p.destroyForcibly();
                p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
            LOG.log(System.Logger.Level.INFO, "Kafka broker on {0} stopped in {1} ms",
                    bootstrapServers(), Long.toString(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            process = null;
        }
    }

    /**
     * Kills the broker at once (SIGKILL): nothing is flushed or closed cleanly. The data directory
     * is kept; {@link #start()} afterwards runs Kafka's log recovery on it.
     */
    public synchronized void kill() {
        Process p = process;
        if (p == null) {
            return;
        }
        p.destroyForcibly();
        try {
            p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            process = null;
        }
    }

    /** {@link #stop()} then {@link #start()}: same ports, same data. */
    public synchronized EmbeddedKafka restart() {
        stop();
        return start();
    }

    /** Whether the broker process is alive (it may still be starting). */
    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /**
     * Stops the broker and, if this instance created its directory itself, deletes it. A closed
     * instance cannot be started again.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            stop();
        } finally {
            if (ownsBaseDir) {
                deleteRecursively(baseDir);
            }
        }
    }

    /** For the shutdown hook: no lock (a start may be in progress), no graceful stop (the data is thrown away). */
    private void closeQuietly() {
        closed = true;
        try {
            Process p = process;
            if (p != null) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException | RuntimeException ignored) {
            // nothing useful to do during JVM shutdown
        }
        if (ownsBaseDir) {
            deleteRecursively(baseDir);
        }
    }

    // ------------------------------------------------------------------ accessors

    /** {@code 127.0.0.1:<port>}, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return HOST + ":" + port;
    }

    /** {@code kafka://127.0.0.1:<port>}. */
    public String url() {
        return "kafka://" + bootstrapServers();
    }

    /** The client (PLAINTEXT) port. */
    public synchronized int port() {
        return port;
    }

    /** The KRaft controller port. */
    public synchronized int controllerPort() {
        return controllerPort;
    }

    /** The broker's base directory: {@code data/} (Kafka's log dir), {@code server.properties}, {@code broker.log}. */
    public Path directory() {
        return baseDir;
    }

    /** The file that receives the broker's standard output and error (its whole log). */
    public Path logFile() {
        return baseDir.resolve(LOG_FILE_NAME);
    }

    /** The broker process id, or -1 if it is not running. */
    public synchronized long pid() {
        return isRunning() ? process.pid() : -1;
    }

    /** The KRaft cluster id the data directory is formatted with. */
    public String clusterId() {
        return clusterId;
    }

    /** The last {@code lines} lines of the broker log (empty if there is none yet). */
    public String logTail(int lines) {
        return tail(logFile(), lines);
    }

    @Override
    public String toString() {
        return "EmbeddedKafka[" + bootstrapServers() + ", dir=" + baseDir + (isRunning() ? ", pid=" + pid() : ", stopped") + "]";
    }

    // ------------------------------------------------------------------ launching

    private static final class BindFailure extends Exception {
        private static final long serialVersionUID = 1L;

        BindFailure(String message) {
            super(message);
        }
    }

    private void launchAndAwait() throws BindFailure {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(config.jvmOptions);
        command.add("-cp");
        command.add(childClasspath());
        command.add(EmbeddedKafka.class.getName());
        command.addAll(List.of(
                "--port", Integer.toString(port),
                "--controller-port", Integer.toString(controllerPort),
                "--dir", baseDir.toString(),
                "--cluster-id", clusterId,
                "--partitions", Integer.toString(config.partitions),
                "--auto-create-topics", Boolean.toString(config.autoCreateTopics),
                "--parent-pid", Long.toString(ProcessHandle.current().pid())));
        if (ownsBaseDir) {
            command.add("--delete-dir-with-parent");
        }
        config.brokerProperties.forEach((k, v) -> command.addAll(List.of("--override", k + "=" + v)));

        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(baseDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()));
        long logStart = fileSize(logFile());
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the Kafka broker process: " + e.getMessage() + startupHelp(), e);
        }
        try {
            awaitReady(logStart);
        } catch (RuntimeException | BindFailure e) {
            kill();
            throw e;
        }
    }

    private void awaitReady(long logStart) throws BindFailure {
        long deadline = System.nanoTime() + config.startupTimeout.toNanos();
        Admin admin = null;
        Exception lastError = null;
        try {
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    String log = readFrom(logFile(), logStart);
                    String message = "Kafka broker process exited with code " + process.exitValue()
                            + " during startup on " + bootstrapServers();
                    if (log.contains("BindException") || log.contains("Address already in use")) {
                        throw new BindFailure(message + " (port in use)\n" + lastLines(log, 40));
                    }
                    throw new IllegalStateException(message + "\n--- broker log (tail) ---\n"
                            + lastLines(log, 60) + startupHelp());
                }
                if (!canConnect(port)) {
                    sleep(100);
                    continue;
                }
                if (admin == null) {
                    admin = newAdmin(bootstrapServers());
                }
                try {
                    long remaining = Math.max(500, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                    DescribeClusterResult cluster = admin.describeCluster(
                            new DescribeClusterOptions().timeoutMs((int) Math.min(5_000, remaining)));
                    Collection<Node> nodes = cluster.nodes().get();
                    // another broker may hold the port (ours then dies with a BindException): only ours has our cluster id
                    if (!nodes.isEmpty() && clusterId.equals(cluster.clusterId().get())) {
                        return;
                    }
                } catch (ExecutionException e) {
                    lastError = e;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the Kafka broker", e);
                }
                sleep(200);
            }
            throw new IllegalStateException("Kafka broker on " + bootstrapServers() + " did not answer within "
                    + config.startupTimeout.toSeconds() + " s"
                    + (lastError != null ? " (last error: " + lastError.getCause() + ")" : "")
                    + "\n--- broker log (tail) ---\n" + lastLines(readFrom(logFile(), logStart), 60)
                    + startupHelp());
        } finally {
            if (admin != null) {
                admin.close(Duration.ofSeconds(2));
            }
        }
    }

    private String startupHelp() {
        return "\n--- broker log: " + logFile() + " ---\n"
                + "To run a Kafka broker by hand: scripts/kafka.sh start  (or: java -cp <courier-testkit classpath> "
                + EmbeddedKafka.class.getName() + " --port 9092 --dir /tmp/courier-kafka)\n"
                + "and point the tests at it with COURIER_TEST_KAFKA_URL=kafka://127.0.0.1:9092 "
                + "(or -D" + KafkaFixture.URL_PROPERTY + "=kafka://127.0.0.1:9092).";
    }

    static Admin newAdmin(String bootstrapServers) {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "courier-kafka-probe");
        return Admin.create(props);
    }

    /**
     * The classpath for the broker process: the {@code courier.kafka.classpath} system property if
     * set, else this JVM's class path, with manifest-only jars (as some launchers use to shorten
     * the command line) expanded.
     */
    static String childClasspath() {
        String explicit = System.getProperty(CLASSPATH_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            return explicit;
        }
        List<String> entries = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (entry.isBlank()) {
                continue;
            }
            entries.add(entry);
            entries.addAll(manifestClassPath(Paths.get(entry)));
        }
        return String.join(File.pathSeparator, entries);
    }

    private static List<String> manifestClassPath(Path jar) {
        if (!jar.toString().endsWith(".jar") || !Files.isRegularFile(jar)) {
            return List.of();
        }
        try (JarFile jarFile = new JarFile(jar.toFile())) {
            Manifest manifest = jarFile.getManifest();
            String cp = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
            if (cp == null || cp.isBlank()) {
                return List.of();
            }
            List<String> result = new ArrayList<>();
            for (String item : cp.trim().split("\\s+")) {
                try {
                    java.net.URI uri = jar.toUri().resolve(item);
                    result.add(Paths.get(uri).toString());
                } catch (RuntimeException e) {
                    // not a file URI: skip
                }
            }
            return result;
        } catch (IOException e) {
            return List.of();
        }
    }

    // ------------------------------------------------------------------ builder

    /** Options for a private broker. */
    public static final class Builder {
        private int port;
        private int controllerPort;
        private Path dir;
        private int partitions = 3;
        private boolean autoCreateTopics = true;
        private Duration startupTimeout = Duration.ofSeconds(60);
        private List<String> jvmOptions = defaultJvmOptions();
        private final Map<String, String> brokerProperties = new LinkedHashMap<>();

        private Builder() {
        }

        private static List<String> defaultJvmOptions() {
            String fromProperty = System.getProperty(JVM_OPTIONS_PROPERTY);
            if (fromProperty != null && !fromProperty.isBlank()) {
                return List.of(fromProperty.trim().split("\\s+"));
            }
            return DEFAULT_JVM_OPTIONS;
        }

        /** Client port; 0 (the default) picks a free one once, kept across restarts. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Controller port; 0 (the default) picks a free one once, kept across restarts. */
        public Builder controllerPort(int controllerPort) {
            this.controllerPort = controllerPort;
            return this;
        }

        /** Base directory (kept on close); by default a new temporary directory, deleted on close. */
        public Builder directory(Path dir) {
            this.dir = dir;
            return this;
        }

        /** {@code num.partitions} for auto-created topics and topics created without a count; default 3. */
        public Builder partitions(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions must be >= 1");
            }
            this.partitions = partitions;
            return this;
        }

        /** {@code auto.create.topics.enable}; default true. */
        public Builder autoCreateTopics(boolean autoCreateTopics) {
            this.autoCreateTopics = autoCreateTopics;
            return this;
        }

        /** How long {@link #start()} waits for the broker to answer; default 60 s. */
        public Builder startupTimeout(Duration startupTimeout) {
            this.startupTimeout = Objects.requireNonNull(startupTimeout);
            return this;
        }

        /** JVM options of the broker process; default {@link #DEFAULT_JVM_OPTIONS}. */
        public Builder jvmOptions(List<String> jvmOptions) {
            this.jvmOptions = List.copyOf(jvmOptions);
            return this;
        }

        /** Any broker setting ({@code server.properties} key), applied last. */
        public Builder brokerProperty(String key, String value) {
            brokerProperties.put(Objects.requireNonNull(key), Objects.requireNonNull(value));
            return this;
        }

        /** Creates the (not yet started) broker. */
        public EmbeddedKafka build() {
            return new EmbeddedKafka(this);
        }

        private Builder copy() {
            Builder b = new Builder();
            b.port = port;
            b.controllerPort = controllerPort;
            b.dir = dir;
            b.partitions = partitions;
            b.autoCreateTopics = autoCreateTopics;
            b.startupTimeout = startupTimeout;
            b.jvmOptions = jvmOptions;
            b.brokerProperties.putAll(brokerProperties);
            return b;
        }
    }

    // ------------------------------------------------------------------ broker process entry point

    /**
     * Runs a broker in this JVM until the process is killed (or, with {@code --parent-pid}, until
     * that process ends). Prints {@code COURIER KAFKA READY bootstrap=127.0.0.1:<port> url=kafka://...}
     * once the broker answers requests.
     *
     * <pre>
     * --port N              client port (default 9092)
     * --controller-port N   controller port (default: port + 1)
     * --dir PATH            base directory (default: a new temporary directory); data is kept
     * --partitions N        num.partitions (default 3)
     * --auto-create-topics B auto.create.topics.enable (default true)
     * --cluster-id ID       cluster id used to format a new data directory
     * --override K=V        any broker setting (repeatable)
     * --parent-pid PID      exit when that process ends
     * --delete-dir-with-parent  with --parent-pid: then also delete --dir
     * </pre>
     */
    public static void main(String[] args) throws Exception {
        BrokerMain.run(args);
    }

    // ------------------------------------------------------------------ small helpers

    static int freePort(int... avoid) {
        for (int i = 0; i < 20; i++) {
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false);
                socket.bind(new InetSocketAddress(HOST, 0));
                int candidate = socket.getLocalPort();
                if (Arrays.stream(avoid).noneMatch(a -> a == candidate)) {
                    return candidate;
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot find a free port on " + HOST, e);
            }
        }
        throw new IllegalStateException("cannot find a free port on " + HOST);
    }

    static boolean canConnect(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static long fileSize(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String readFrom(Path file, long offset) {
        if (!Files.exists(file)) {
            return "";
        }
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(Math.min(offset, Files.size(file)));
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    static String tail(Path file, int lines) {
        return lastLines(readFrom(file, 0), lines);
    }

    static String lastLines(String text, int lines) {
        String[] all = text.split("\\R");
        int from = Math.max(0, all.length - lines);
        return String.join("\n", Arrays.asList(all).subList(from, all.length));
    }

    static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
