package dev.courier.testkit.kafka;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Chooses the Kafka broker for tests.
 *
 * <p>If {@code COURIER_TEST_KAFKA_URL} (environment) or {@code courier.test.kafka.url} (system
 * property, which wins) is set, that broker is used, after checking that it answers. Otherwise
 * the JVM-wide {@link EmbeddedKafka#shared() embedded broker} is started (once) and used.
 *
 * <p>URLs have the form {@code kafka://host:port[,host:port...]}; a bare {@code host:port} list
 * is accepted too.
 */
public final class KafkaFixture {

    /** System property naming an external broker. */
    public static final String URL_PROPERTY = "courier.test.kafka.url";
    /** Environment variable naming an external broker. */
    public static final String URL_ENV = "COURIER_TEST_KAFKA_URL";

    private static final long CHECK_TIMEOUT_MS = 15_000;
    private static final String HOW_TO = "\nStart one with scripts/kafka.sh start, or unset " + URL_ENV
            + " (and " + URL_PROPERTY + ") to use the embedded broker.";
    private static volatile String checkedExternal;

    private KafkaFixture() {
    }

    /** The URL of the broker to test against ({@code kafka://host:port}); starts the embedded one if needed. */
    public static String resolve() {
        String configured = configuredUrl();
        if (configured == null) {
            return EmbeddedKafka.shared().url();
        }
        String url = configured.startsWith("kafka://") ? configured : "kafka://" + configured;
        if (!url.equals(checkedExternal)) {
            check(url);
            checkedExternal = url;
        }
        return url;
    }

    /** The {@code bootstrap.servers} value of {@link #resolve()}. */
    public static String bootstrapServers() {
        return toBootstrapServers(resolve());
    }

    /** Whether an external broker is configured (so the embedded one is not used). */
    public static boolean isExternal() {
        return configuredUrl() != null;
    }

    /** {@code kafka://a:1,b:2} or {@code a:1,b:2} to {@code a:1,b:2}. */
    public static String toBootstrapServers(String url) {
        String s = url.trim();
        if (s.startsWith("kafka://")) {
            s = s.substring("kafka://".length());
        }
        int slash = s.indexOf('/');
        if (slash >= 0) {
            s = s.substring(0, slash);
        }
        if (s.isEmpty()) {
            throw new IllegalArgumentException("no host:port in Kafka URL '" + url + "'");
        }
        return s;
    }

    private static boolean anyAcceptsConnections(String bootstrap) {
        for (String hostPort : bootstrap.split(",")) {
            String hp = hostPort.trim();
            int colon = hp.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("expected host:port in Kafka URL, got '" + hp + "'");
            }
            String host = hp.substring(0, colon).replace("[", "").replace("]", "");
            int port = Integer.parseInt(hp.substring(colon + 1));
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), 3_000);
                return true;
            } catch (IOException e) {
                // try the next one
            }
        }
        return false;
    }

    private static String configuredUrl() {
        String value = System.getProperty(URL_PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(URL_ENV);
        }
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static void check(String url) {
        String bootstrap = toBootstrapServers(url);
        if (!anyAcceptsConnections(bootstrap)) {
            throw new IllegalStateException("The Kafka broker at " + url + " (from " + URL_ENV + " / -D" + URL_PROPERTY
                    + ") refuses connections." + HOW_TO);
        }
        try (Admin admin = EmbeddedKafka.newAdmin(bootstrap)) {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) CHECK_TIMEOUT_MS))
                    .nodes().get(CHECK_TIMEOUT_MS + 2_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("The Kafka broker at " + url + " (from " + URL_ENV + " / -D" + URL_PROPERTY
                    + ") does not answer within " + CHECK_TIMEOUT_MS / 1000 + " s: " + cause + HOW_TO, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking the Kafka broker at " + url, e);
        }
    }
}
