package dev.courier.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.courier.spi.BrokerUrl;
import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.BrokerLocator;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The RabbitMQ the tests run against (found by {@link BrokerLocator}: {@code COURIER_TEST_RABBITMQ_URL}
 * or loopback 5672; a missing broker fails with instructions), plus raw access for checks and
 * clean-up that Courier does not offer.
 */
final class RabbitBroker {

    static final BrokerFixture FIXTURE = BrokerLocator.rabbitmq().locateShared();

    private RabbitBroker() {
    }

    /** A raw amqp-client connection to the test broker. */
    static Connection rawConnection() throws Exception {
        BrokerUrl url = BrokerUrl.parse(FIXTURE.url());
        ConnectionFactory f = new ConnectionFactory();
        f.setHost(url.hosts().get(0).host());
        f.setPort(url.hosts().get(0).portOr(5672));
        if (url.user() != null) {
            f.setUsername(url.user());
        }
        if (url.password() != null) {
            f.setPassword(url.password());
        }
        f.setVirtualHost(url.path().isEmpty() ? "/" : url.path());
        f.setAutomaticRecoveryEnabled(false);
        return f.newConnection("courier-test-cleanup");
    }

    /** Runs {@code rabbitmqctl} with {@code args} and returns its output lines; fails the test if it cannot. */
    static List<String> rabbitmqctl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("rabbitmqctl");
        cmd.add("-q");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
            }
        }
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("rabbitmqctl " + String.join(" ", args) + " failed (it must run as root or the rabbitmq user): " + lines);
        }
        return lines;
    }

    /** Deletes every queue and exchange whose name starts with {@code prefix}; best effort. */
    static void deleteAll(String prefix) {
        try (Connection c = rawConnection()) {
            for (String line : rabbitmqctl("list_queues", "name", "--no-table-headers")) {
                String name = line.trim();
                if (name.startsWith(prefix)) {
                    Channel ch = c.createChannel();
                    ch.queueDelete(name);
                    ch.close();
                }
            }
            for (String line : rabbitmqctl("list_exchanges", "name", "--no-table-headers")) {
                String name = line.trim();
                if (name.startsWith(prefix)) {
                    Channel ch = c.createChannel();
                    ch.exchangeDelete(name);
                    ch.close();
                }
            }
        } catch (Exception e) {
            System.err.println("clean-up of '" + prefix + "*' on the test broker failed: " + e);
        }
    }
}
