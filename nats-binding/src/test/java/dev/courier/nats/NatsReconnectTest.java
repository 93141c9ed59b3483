package dev.courier.nats;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server that dies mid-stream and comes back: this test runs its own nats-server (never the
 * shared one on 4222), kills it while messages flow, and starts it again on the same port and
 * store directory. Every publish that was confirmed must be delivered.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class NatsReconnectTest {

    static final String SERVER_BINARY = System.getenv().getOrDefault("COURIER_TEST_NATS_SERVER", "/usr/sbin/nats-server");

    @TempDir
    Path store;

    private Process server;

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.destroyForcibly();
        }
    }

    private Process start(int port) throws Exception {
        if (!new File(SERVER_BINARY).canExecute()) {
            throw new AssertionError("nats-server not found at " + SERVER_BINARY + "; install it or set COURIER_TEST_NATS_SERVER");
        }
        Process p = new ProcessBuilder(SERVER_BINARY, "-js", "-a", "127.0.0.1", "-p", Integer.toString(port), "-sd", store.toString())
                .redirectErrorStream(true).redirectOutput(store.resolve("server-" + System.nanoTime() + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return p;
            } catch (java.io.IOException notYet) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new AssertionError("nats-server did not start on port " + port);
    }

    @Test
    @DisplayName("the server is killed and restarted mid-stream: no confirmed message is lost")
    void survivesServerRestart() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = start(port);
        CourierConfig config = CourierConfig.builder().withoutEnvironment()
                .url("nats://127.0.0.1:" + port)
                .set(NatsSettings.RECONNECT_WAIT, "200ms")
                .set(NatsSettings.ACK_WAIT, "3s")
                .set(CourierConfig.PUBLISH_TIMEOUT, "10s")
                .build();
        String topic = "reconnect.orders";
        Set<String> received = ConcurrentHashMap.newKeySet();
        try (Courier consumer = Courier.connect(config); Courier producer = Courier.connect(config)) {
            consumer.subscribe(Subscribe.to(topic).group("g").concurrency(4), d -> received.add(d.message().id()));
            List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>();
            for (int i = 0; i < 600; i++) {
                stages.add(producer.publisher().publish(topic, "m-" + i).toCompletableFuture());
                if (i == 200) {
                    server.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // killed, not stopped: nothing is flushed on the way out
                } else if (i == 350) {
                    server = start(port);
                }
                Thread.sleep(5);
            }
            Set<String> confirmed = ConcurrentHashMap.newKeySet();
            int failed = 0;
            for (CompletableFuture<PublishReceipt> s : stages) {
                try {
                    confirmed.add(s.get(30, TimeUnit.SECONDS).messageId());
                } catch (java.util.concurrent.ExecutionException e) {
                    failed++; // not confirmed: the publisher was told, so it may publish again
                }
            }
            assertThat(confirmed.size()).as("confirmed publishes (failed: " + failed + ")").isGreaterThan(300);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!received.containsAll(confirmed) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Set<String> missing = new java.util.HashSet<>(confirmed);
            missing.removeAll(received);
            assertThat(missing).as("confirmed messages never delivered").isEmpty();
        }
    }
}
