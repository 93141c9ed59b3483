package dev.courier.testkit.kafka;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Uuid;

/**
 * The broker process: writes {@code server.properties}, formats the KRaft storage directory if
 * it is new, then runs {@code kafka.Kafka} in this JVM. Entered through
 * {@link EmbeddedKafka#main(String[])}.
 */
final class BrokerMain {

    private BrokerMain() {
    }

    static void run(String[] args) throws Exception {
        configureSimpleLogger();
        int port = 9092;
        int controllerPort = 0;
        Path dir = null;
        int partitions = 3;
        boolean autoCreate = true;
        String clusterId = null;
        long parentPid = -1;
        boolean deleteWithParent = false;
        Map<String, String> overrides = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--port" -> port = Integer.parseInt(value(args, ++i, arg));
                case "--controller-port" -> controllerPort = Integer.parseInt(value(args, ++i, arg));
                case "--dir" -> dir = Paths.get(value(args, ++i, arg));
                case "--partitions" -> partitions = Integer.parseInt(value(args, ++i, arg));
                case "--auto-create-topics" -> autoCreate = Boolean.parseBoolean(value(args, ++i, arg));
                case "--cluster-id" -> clusterId = value(args, ++i, arg);
                case "--parent-pid" -> parentPid = Long.parseLong(value(args, ++i, arg));
                case "--delete-dir-with-parent" -> deleteWithParent = true;
                case "--override" -> {
                    String kv = value(args, ++i, arg);
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw usage("--override needs KEY=VALUE, got " + kv);
                    }
                    overrides.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
                case "-h", "--help" -> {
                    System.out.println(USAGE);
                    return;
                }
                default -> throw usage("unknown option " + arg);
            }
        }
        if (dir == null) {
            dir = Files.createTempDirectory("courier-kafka-");
        }
        dir = dir.toAbsolutePath();
        Files.createDirectories(dir);
        if (controllerPort == 0) {
            // fixed, so that a kept directory finds the same controller quorum on the next run
            controllerPort = port + 1;
        }
        if (clusterId == null) {
            clusterId = Uuid.randomUuid().toString();
        }
        if (parentPid > 0) {
            watchParent(parentPid, deleteWithParent ? dir : null);
        }

        Map<String, String> props = brokerProperties(port, controllerPort, dir.resolve(EmbeddedKafka.DATA_DIR_NAME),
                partitions, autoCreate);
        props.putAll(overrides);
        Path propsFile = dir.resolve(EmbeddedKafka.PROPERTIES_FILE_NAME);
        writeProperties(propsFile, props);

        System.out.println("Starting Kafka broker on " + EmbeddedKafka.HOST + ":" + port + " (controller port "
                + controllerPort + ", dir " + dir + ", pid " + ProcessHandle.current().pid() + ")");
        Path metaProperties = dir.resolve(EmbeddedKafka.DATA_DIR_NAME).resolve("meta.properties");
        if (Files.exists(metaProperties)) {
            // formatted before: keep its cluster id (formatting again with another id would fail)
            System.out.println("Using the existing data in " + metaProperties.getParent());
        } else {
            int rc = kafka.tools.StorageTool.execute(new String[] {
                    "format", "--cluster-id", clusterId, "--config", propsFile.toString(), "--ignore-formatted"},
                    System.out);
            if (rc != 0) {
                System.err.println("Formatting " + dir + " failed with code " + rc);
                System.exit(rc);
            }
        }

        announceWhenReady(port);
        kafka.Kafka.main(new String[] {propsFile.toString()});
    }

    /**
     * Defaults for slf4j-simple, when that is the binding on the classpath (set before anything
     * logs; a -D on the command line wins): timestamps, and no multi-page config dumps.
     */
    private static void configureSimpleLogger() {
        Map<String, String> defaults = Map.of(
                "org.slf4j.simpleLogger.showDateTime", "true",
                "org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS",
                "org.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig", "warn");
        defaults.forEach((k, v) -> {
            if (System.getProperty(k) == null) {
                System.setProperty(k, v);
            }
        });
    }

    static Map<String, String> brokerProperties(int port, int controllerPort, Path dataDir, int partitions,
            boolean autoCreate) {
        String host = EmbeddedKafka.HOST;
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@" + host + ":" + controllerPort);
        p.put("listeners", "PLAINTEXT://" + host + ":" + port + ",CONTROLLER://" + host + ":" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://" + host + ":" + port);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", dataDir.toString());

        p.put("num.partitions", Integer.toString(partitions));
        p.put("default.replication.factor", "1");
        p.put("min.insync.replicas", "1");
        p.put("auto.create.topics.enable", Boolean.toString(autoCreate));
        p.put("delete.topic.enable", "true");

        // internal topics: one replica, few partitions (created faster, less to recover)
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "5");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "5");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("share.coordinator.state.topic.num.partitions", "5");
        p.put("group.initial.rebalance.delay.ms", "0");
        // consumer-protocol groups (KIP-848) move partitions on heartbeats: 1 s instead of 5 s keeps rebalances in tests short
        p.put("group.consumer.min.heartbeat.interval.ms", "1000");
        p.put("group.consumer.heartbeat.interval.ms", "1000");
        p.put("group.consumer.min.session.timeout.ms", "6000");
        p.put("group.consumer.session.timeout.ms", "10000");

        // after a kill, the controller refuses the restarted broker's registration until the old
        // incarnation's session expires (default 9 s): keep that short for fast kill/restart tests
        p.put("broker.session.timeout.ms", "4000");
        p.put("broker.heartbeat.interval.ms", "500");

        // a small footprint for a 2-core machine
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        p.put("num.recovery.threads.per.data.dir", "1");
        p.put("log.cleaner.threads", "1");
        p.put("log.cleaner.dedupe.buffer.size", Integer.toString(8 * 1024 * 1024));
        p.put("log.segment.bytes", Integer.toString(16 * 1024 * 1024));
        p.put("log.index.size.max.bytes", Integer.toString(1024 * 1024));
        return p;
    }

    private static void writeProperties(Path file, Map<String, String> props) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("# written by " + EmbeddedKafka.class.getName() + "; rewritten on every start\n");
            for (Map.Entry<String, String> e : props.entrySet()) {
                w.write(e.getKey() + "=" + e.getValue().replace("\\", "\\\\") + "\n");
            }
        }
    }

    /**
     * Exits when the process that started us ends: at once, deleting {@code dirToDelete}, if that
     * is given (a throw-away temporary directory), else cleanly through Kafka's shutdown hook.
     */
    private static void watchParent(long parentPid, Path dirToDelete) {
        ProcessHandle.of(parentPid).ifPresentOrElse(
                parent -> parent.onExit().thenRun(() -> {
                    System.out.println("Parent process " + parentPid + " ended: stopping the Kafka broker");
                    if (dirToDelete != null) {
                        EmbeddedKafka.deleteRecursively(dirToDelete);
                        Runtime.getRuntime().halt(0);
                    }
                    System.exit(0);
                }),
                () -> {
                    System.out.println("Parent process " + parentPid + " is gone: not starting");
                    System.exit(0);
                });
    }

    /** Prints the ready line once the broker answers an Admin request (for scripts and humans). */
    private static void announceWhenReady(int port) {
        String bootstrap = EmbeddedKafka.HOST + ":" + port;
        Thread t = new Thread(() -> {
            long started = System.nanoTime();
            while (true) {
                if (EmbeddedKafka.canConnect(port)) {
                    try (Admin admin = EmbeddedKafka.newAdmin(bootstrap)) {
                        while (true) {
                            try {
                                if (!admin.describeCluster(new DescribeClusterOptions().timeoutMs(5_000))
                                        .nodes().get().isEmpty()) {
                                    long ms = Duration.ofNanos(System.nanoTime() - started).toMillis();
                                    System.out.println(EmbeddedKafka.READY_LINE_PREFIX + "bootstrap=" + bootstrap
                                            + " url=kafka://" + bootstrap + " (" + ms + " ms after launch)");
                                    System.out.flush();
                                    return;
                                }
                            } catch (ExecutionException e) {
                                // not ready yet
                            }
                            Thread.sleep(200);
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "courier-kafka-ready");
        t.setDaemon(true);
        t.start();
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw usage(option + " needs a value");
        }
        return args[i];
    }

    private static IllegalArgumentException usage(String problem) {
        return new IllegalArgumentException(problem + "\n" + USAGE);
    }

    static final String USAGE = """
            Usage: java -cp <courier-testkit classpath> dev.courier.testkit.kafka.EmbeddedKafka [options]
              --port N               client port (default 9092)
              --controller-port N    KRaft controller port (default: port + 1)
              --dir PATH             base directory, kept (default: a new temporary directory)
              --partitions N         num.partitions (default 3)
              --auto-create-topics B auto.create.topics.enable (default true)
              --cluster-id ID        cluster id for formatting a new directory (default: random)
              --override KEY=VALUE   any broker setting (repeatable)
              --parent-pid PID       stop when that process ends
              --delete-dir-with-parent  with --parent-pid: then also delete --dir""";
}
