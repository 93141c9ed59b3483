package dev.courier.nats;

import dev.courier.testkit.BrokerFixture;
import dev.courier.testkit.BrokerLocator;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The NATS server the tests run against: {@code COURIER_TEST_NATS_URL} if set, else the server with
 * JetStream on loopback port 4222 (found by the testkit's {@link BrokerLocator}). A server that does not answer fails the tests with a message
 * saying how to start one; it never skips them. Streams a case created (their names start with the
 * case's id) are deleted after it, so the shared server does not fill up.
 */
final class NatsFixture implements BrokerFixture {

    static final String DEFAULT_URL = "nats://127.0.0.1:4222";

    private final String name;
    private final String url;
    private final Map<String, String> config;

    NatsFixture(String name, Map<String, String> config) {
        this.name = name;
        this.url = resolveUrl();
        Map<String, String> all = new LinkedHashMap<>();
        // a short ack wait keeps messages lost in transit at close from stalling a case; in-progress acks cover slow handlers
        all.put(NatsSettings.ACK_WAIT, "5s");
        all.put(NatsSettings.STREAM_STORAGE, "memory");
        // a close waits up to this long for open pull requests before it gives messages back
        all.put(NatsSettings.PULL_EXPIRY, "300ms");
        all.putAll(config);
        this.config = Map.copyOf(all);
        checkReachable(url);
    }

    static NatsFixture jetStream() {
        return new NatsFixture("nats (JetStream)", Map.of());
    }

    static NatsFixture core() {
        return new NatsFixture("nats (core)", Map.of(NatsSettings.MODE, "core"));
    }

    /** {@code COURIER_TEST_NATS_URL}, the loopback server, or a container, as the testkit's locator finds it. */
    static String resolveUrl() {
        return BrokerLocator.nats().locateShared().url();
    }

    static void checkReachable(String url) {
        Options o = new Options.Builder().server(url.replaceFirst("^nats://[^@]*@", "nats://"))
                .connectionTimeout(Duration.ofSeconds(3)).noReconnect().build();
        try (Connection c = Nats.connect(o)) {
            c.jetStreamManagement().getAccountStatistics();
        } catch (Exception e) {
            throw new AssertionError("no NATS server with JetStream answers at " + url + " (" + e + "). Start one with "
                    + "'nats-server -js -a 127.0.0.1 -p 4222' or point COURIER_TEST_NATS_URL at one", e);
        }
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
        return config;
    }

    @Override
    public Duration awaitTimeout() {
        return Duration.ofSeconds(45);
    }

    @Override
    public void afterCase(String caseId) {
        deleteStreams(url, "COURIER_" + caseId.replace('.', '_'));
    }

    /** Deletes every stream whose name starts with {@code prefix}. */
    static void deleteStreams(String url, String prefix) {
        Options o = new Options.Builder().server(url).connectionTimeout(Duration.ofSeconds(3)).noReconnect().build();
        try (Connection c = Nats.connect(o)) {
            JetStreamManagement jsm = c.jetStreamManagement();
            List<String> names = jsm.getStreamNames();
            for (String s : names) {
                if (s.startsWith(prefix)) {
                    jsm.deleteStream(s);
                }
            }
        } catch (Exception e) {
            System.err.println("could not delete test streams " + prefix + "*: " + e);
        }
    }

    @Override
    public String toString() {
        return "NatsFixture{" + name + " " + url + '}';
    }
}
