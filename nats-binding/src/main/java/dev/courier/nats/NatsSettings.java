package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import dev.courier.spi.ConfigKeys;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Every configuration key of the NATS binding, with its default, parsed and validated once when
 * the binding opens. Keys may also be given as URL parameters without the {@code courier.nats.}
 * prefix ({@code nats://host:4222?mode=core}); the URL wins. Any other key under
 * {@code courier.nats.} (except {@code native.*}, jnats' own options) or URL parameter is refused
 * when a Courier connects ({@link #CONFIG_KEYS}). Immutable.
 */
public final class NatsSettings {

    private static final String P = "courier.nats.";

    /** {@code jetstream} (default): persistent topics on JetStream streams; {@code core}: plain core NATS subjects. */
    public static final String MODE = P + "mode";
    /** Comma-separated topics that use core NATS while the mode is {@code jetstream}. Default none. */
    public static final String CORE_TOPICS = P + "core-topics";
    /** Comma-separated topics whose message key becomes a subject token ({@code orders.<key>}). Default none. */
    public static final String KEY_SUBJECT_TOPICS = P + "key-subject-topics";
    /** Subject prefix that requests travel on, {@code <prefix>.<topic>}. Default {@code _courier.req}. */
    public static final String REQUEST_PREFIX = P + "request-prefix";

    /** Create a stream for a topic that no stream captures yet. Default true. */
    public static final String STREAM_PROVISION = P + "stream.provision";
    /** Prefix of the names of the streams Courier creates. Default {@code COURIER_}. */
    public static final String STREAM_PREFIX = P + "stream.prefix";
    /** {@code file} (default) or {@code memory}. */
    public static final String STREAM_STORAGE = P + "stream.storage";
    /** {@code limits} (default), {@code interest} or {@code workqueue}. */
    public static final String STREAM_RETENTION = P + "stream.retention";
    /** How long a stream keeps messages; {@code 0} keeps them until the size limits apply. Default 168h (7 days). */
    public static final String STREAM_MAX_AGE = P + "stream.max-age";
    /** Size limit of each stream in bytes; -1 (default) for none. */
    public static final String STREAM_MAX_BYTES = P + "stream.max-bytes";
    /** Replicas of each stream in a cluster. Default 1. */
    public static final String STREAM_REPLICAS = P + "stream.replicas";
    /**
     * Window in which a second message with the same id is dropped as a duplicate. Default 2m, or the
     * max age if that is shorter; at most the max age.
     */
    public static final String STREAM_DUPLICATE_WINDOW = P + "stream.duplicate-window";

    /** How long the server waits for an ack before redelivering; in-progress acks extend it for long handlers. Default 30s. */
    public static final String ACK_WAIT = P + "consumer.ack-wait";
    /** Server-side delivery limit of a consumer; -1 (default) leaves the limit to Subscribe.maxAttempts. */
    public static final String MAX_DELIVER = P + "consumer.max-deliver";
    /**
     * How long a pull request stays open at the server. A close waits up to this long for the
     * requests that may still bring messages before it gives messages back; an idle subscription
     * asks about this often. Default 1s.
     */
    public static final String PULL_EXPIRY = P + "consumer.pull-expiry";
    /** How long the server keeps the consumer of a broadcast subscription whose client vanished. Default 5m. */
    public static final String INACTIVE_THRESHOLD = P + "consumer.inactive-threshold";

    /** Asynchronous JetStream publishes awaiting their PubAck at once; further publishes queue. Default 1024. */
    public static final String MAX_PENDING_PUBLISHES = P + "publish.max-pending";

    /** User name (or put it in the URL). */
    public static final String USER = P + "user";
    /** Password (or put it in the URL). Never logged. */
    public static final String PASSWORD = P + "password";
    /** Token (or put it in the URL as {@code nats://token@host}). Never logged. */
    public static final String TOKEN = P + "token";
    /** Path of a {@code .creds} file holding a user JWT and NKey seed. */
    public static final String CREDENTIALS_FILE = P + "credentials-file";
    /** Use TLS ({@code tls://} URLs always do). Default false. */
    public static final String TLS = P + "tls";
    public static final String TRUSTSTORE = P + "tls.truststore";
    public static final String TRUSTSTORE_PASSWORD = P + "tls.truststore-password";
    public static final String KEYSTORE = P + "tls.keystore";
    public static final String KEYSTORE_PASSWORD = P + "tls.keystore-password";

    /** Reconnect attempts after a connection loss; -1 (default) retries forever. */
    public static final String MAX_RECONNECTS = P + "reconnect.max";
    /** Wait between reconnect attempts. Default 2s. */
    public static final String RECONNECT_WAIT = P + "reconnect.wait";
    /** Bytes of publishes buffered while reconnecting; more fail. Default 8388608 (8 MiB). */
    public static final String RECONNECT_BUFFER = P + "reconnect.buffer-bytes";
    /** Connection name shown by the server's monitoring. Default {@code courier}. */
    public static final String CONNECTION_NAME = P + "connection-name";
    /** Prefix of jnats' own options: {@code courier.nats.native.<jnats key>}, e.g. {@code courier.nats.native.io.nats.client.pinginterval}. */
    public static final String NATIVE_PREFIX = P + "native.";

    /** Default NATS port. */
    public static final int DEFAULT_PORT = 4222;

    final boolean coreMode;
    final Set<String> coreTopics;
    final Set<String> keySubjectTopics;
    final String requestPrefix;
    final boolean provision;
    final String streamPrefix;
    final StorageType storage;
    final RetentionPolicy retention;
    final Duration maxAge;
    final long maxBytes;
    final int replicas;
    final Duration duplicateWindow;
    final Duration ackWait;
    final long maxDeliver;
    final Duration inactiveThreshold;
    final Duration pullExpiry;
    final int maxPendingPublishes;
    final String user;
    final String password;
    final String token;
    final String credentialsFile;
    final boolean tls;
    final String truststore;
    final String truststorePassword;
    final String keystore;
    final String keystorePassword;
    final int maxReconnects;
    final Duration reconnectWait;
    final long reconnectBuffer;
    final String connectionName;
    final Duration connectTimeout;
    final Duration publishTimeout;
    final Map<String, String> nativeOptions;

    private NatsSettings(CourierConfig c, BrokerUrl url) {
        String mode = lower(c.get(MODE), "jetstream");
        if (!mode.equals("jetstream") && !mode.equals("core")) {
            throw new ConfigurationException(MODE + "=" + mode + " is invalid; use jetstream (persistent, at-least-once) "
                    + "or core (at-most-once); see docs/bindings/nats.md");
        }
        coreMode = mode.equals("core");
        coreTopics = list(c.get(CORE_TOPICS));
        keySubjectTopics = list(c.get(KEY_SUBJECT_TOPICS));
        requestPrefix = c.find(REQUEST_PREFIX).filter(s -> !s.isBlank()).orElse("_courier.req").trim();
        provision = c.booleanValue(STREAM_PROVISION, true);
        streamPrefix = c.find(STREAM_PREFIX).orElse("COURIER_").trim();
        if (!streamPrefix.matches("[A-Za-z0-9_-]*")) {
            throw new ConfigurationException(STREAM_PREFIX + "=" + streamPrefix + " is invalid; use letters, digits, '_' and '-'");
        }
        storage = switch (lower(c.get(STREAM_STORAGE), "file")) {
            case "file" -> StorageType.File;
            case "memory" -> StorageType.Memory;
            default -> throw new ConfigurationException(STREAM_STORAGE + "=" + c.get(STREAM_STORAGE) + " is invalid; use file or memory");
        };
        retention = switch (lower(c.get(STREAM_RETENTION), "limits")) {
            case "limits" -> RetentionPolicy.Limits;
            case "interest" -> RetentionPolicy.Interest;
            case "workqueue" -> RetentionPolicy.WorkQueue;
            default -> throw new ConfigurationException(STREAM_RETENTION + "=" + c.get(STREAM_RETENTION)
                    + " is invalid; use limits, interest or workqueue");
        };
        maxAge = c.duration(STREAM_MAX_AGE, Duration.ofDays(7));
        maxBytes = longValue(c, STREAM_MAX_BYTES, -1);
        replicas = c.intValue(STREAM_REPLICAS, 1, 1, 5);
        duplicateWindow = duplicateWindow(c, maxAge);
        ackWait = c.duration(ACK_WAIT, Duration.ofSeconds(30));
        if (ackWait.compareTo(Duration.ofMillis(500)) < 0) {
            throw new ConfigurationException(ACK_WAIT + "=" + c.get(ACK_WAIT) + " is too short; use at least 500ms");
        }
        maxDeliver = longValue(c, MAX_DELIVER, -1);
        inactiveThreshold = c.duration(INACTIVE_THRESHOLD, Duration.ofMinutes(5));
        pullExpiry = c.duration(PULL_EXPIRY, Duration.ofSeconds(1));
        if (pullExpiry.compareTo(Duration.ofMillis(100)) < 0 || pullExpiry.compareTo(Duration.ofSeconds(30)) > 0) {
            throw new ConfigurationException(PULL_EXPIRY + "=" + c.get(PULL_EXPIRY) + " is out of range; use 100ms to 30s");
        }
        maxPendingPublishes = c.intValue(MAX_PENDING_PUBLISHES, 1024, 1, 1_000_000);
        user = url.user() != null && url.password() != null ? url.user() : c.get(USER);
        password = url.user() != null && url.password() != null ? url.password() : c.get(PASSWORD);
        // nats://token@host: a user without a password is a token
        token = url.user() != null && url.password() == null ? url.user() : c.get(TOKEN);
        credentialsFile = c.get(CREDENTIALS_FILE);
        tls = url.scheme().equals("tls") || c.booleanValue(TLS, false);
        truststore = c.get(TRUSTSTORE);
        truststorePassword = c.get(TRUSTSTORE_PASSWORD);
        keystore = c.get(KEYSTORE);
        keystorePassword = c.get(KEYSTORE_PASSWORD);
        maxReconnects = c.intValue(MAX_RECONNECTS, -1, -1, Integer.MAX_VALUE);
        reconnectWait = c.duration(RECONNECT_WAIT, Duration.ofSeconds(2));
        reconnectBuffer = longValue(c, RECONNECT_BUFFER, 8L * 1024 * 1024);
        connectionName = c.find(CONNECTION_NAME).orElse("courier");
        connectTimeout = c.connectTimeout();
        publishTimeout = c.publishTimeout();
        nativeOptions = c.withPrefix(NATIVE_PREFIX);
    }

    /**
     * The duplicate window, which JetStream refuses to be longer than the stream's max age: unset,
     * it is the default shortened to a shorter max age, so {@code stream.max-age=1m} alone works;
     * set explicitly to more than the max age, it is refused here rather than by every stream
     * creation later.
     */
    private static Duration duplicateWindow(CourierConfig c, Duration maxAge) {
        Duration def = Duration.ofMinutes(2);
        String v = c.get(STREAM_DUPLICATE_WINDOW);
        if (v == null || v.isBlank()) {
            return maxAge.isZero() || maxAge.compareTo(def) >= 0 ? def : maxAge;
        }
        Duration window = c.duration(STREAM_DUPLICATE_WINDOW, def);
        if (!maxAge.isZero() && window.compareTo(maxAge) > 0) {
            throw new ConfigurationException(STREAM_DUPLICATE_WINDOW + "=" + v.trim() + " is longer than " + STREAM_MAX_AGE + "="
                    + c.find(STREAM_MAX_AGE).orElse("168h").trim() + ", which JetStream refuses (a stream cannot remember ids longer than it keeps "
                    + "messages); shorten the duplicate window or lengthen the max age");
        }
        return window;
    }

    /** Reads the binding's keys from {@code config}, with URL parameters taking precedence. */
    static NatsSettings from(CourierConfig config, BrokerUrl url) {
        Map<String, String> extra = new java.util.LinkedHashMap<>();
        for (String key : KEYS) {
            // environment variables cannot carry dashes: COURIER_NATS_CREDENTIALS_FILE arrives as courier.nats.credentials.file
            String dotted = key.replace('-', '.');
            if (config.get(key) == null && !dotted.equals(key) && config.get(dotted) != null) {
                extra.put(key, config.get(dotted));
            }
        }
        url.params().forEach((k, v) -> extra.put(k.startsWith("courier.") ? k : P + k, v));
        if (extra.isEmpty()) {
            return new NatsSettings(config, url);
        }
        // only what the settings read: an unrelated key that came from the environment (and was only
        // warned about) would be refused once it is set explicitly here
        Map<String, String> own = new java.util.LinkedHashMap<>();
        config.withPrefix(P).forEach((k, v) -> own.put(P + k, v));
        for (String core : CourierConfig.KEYS) {
            config.find(core).ifPresent(v -> own.put(core, v));
        }
        CourierConfig merged = CourierConfig.builder().withoutEnvironment().setAll(own).setAll(extra)
                .url(config.url()).build();
        return new NatsSettings(merged, url);
    }

    private static final java.util.List<String> KEYS = java.util.List.of(MODE, CORE_TOPICS, KEY_SUBJECT_TOPICS, REQUEST_PREFIX,
            STREAM_PROVISION, STREAM_PREFIX, STREAM_STORAGE, STREAM_RETENTION, STREAM_MAX_AGE, STREAM_MAX_BYTES, STREAM_REPLICAS,
            STREAM_DUPLICATE_WINDOW, ACK_WAIT, MAX_DELIVER, INACTIVE_THRESHOLD, PULL_EXPIRY, MAX_PENDING_PUBLISHES, USER, PASSWORD, TOKEN,
            CREDENTIALS_FILE, TLS, TRUSTSTORE, TRUSTSTORE_PASSWORD, KEYSTORE, KEYSTORE_PASSWORD, MAX_RECONNECTS, RECONNECT_WAIT,
            RECONNECT_BUFFER, CONNECTION_NAME);

    /** The keys above, jnats' options under {@link #NATIVE_PREFIX} unchecked, and URL parameters as keys. */
    static final ConfigKeys CONFIG_KEYS = ConfigKeys.of(P, KEYS).passThrough(NATIVE_PREFIX)
            .urlParameters(ConfigKeys.UrlParameters.KEYS);

    /** Whether {@code topic} is carried by core NATS rather than JetStream. */
    boolean isCore(String topic) {
        return coreMode || coreTopics.contains(topic);
    }

    boolean keyAsSubject(String topic) {
        return keySubjectTopics.contains(topic);
    }

    /** The subject requests to {@code topic} are sent to. */
    String requestSubject(String topic) {
        return requestPrefix + "." + topic;
    }

    private static long longValue(CourierConfig c, String key, long def) {
        String v = c.get(key);
        if (v == null || v.isBlank()) {
            return def;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + "=" + v + " is not a whole number", e);
        }
    }

    private static String lower(String v, String def) {
        return v == null || v.isBlank() ? def : v.trim().toLowerCase(Locale.ROOT);
    }

    private static Set<String> list(String v) {
        Set<String> out = new LinkedHashSet<>();
        if (v != null) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    out.add(s.trim());
                }
            }
        }
        return Set.copyOf(out);
    }
}
