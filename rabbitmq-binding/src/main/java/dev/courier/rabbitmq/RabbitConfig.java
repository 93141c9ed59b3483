package dev.courier.rabbitmq;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.spi.ConfigKeys;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The RabbitMQ binding's configuration keys, all under {@code courier.rabbitmq.}, with their
 * defaults and validation in one place. Each key is documented in {@code docs/bindings/rabbitmq.md}.
 * Immutable and thread-safe.
 */
public final class RabbitConfig {

    /** Prefix of every key of this binding. */
    public static final String PREFIX = "courier.rabbitmq.";

    /** {@code classic} or {@code quorum}: the type of group queues the binding declares. Default {@code classic}. */
    public static final String QUEUE_TYPE = PREFIX + "queue-type";
    /** {@code true}: declare exchanges, queues and bindings that are missing; {@code false}: only check they exist. Default true. */
    public static final String PROVISIONING = PREFIX + "provisioning";
    /** Number of publishing channels (each with its own confirm window); a thread always uses the same one. Default 4. */
    public static final String PUBLISHER_CHANNELS = PREFIX + "publisher.channels";
    /** Prefetch (basic.qos) of every subscription instead of its max in flight; never below its concurrency. Default unset. */
    public static final String PREFETCH = PREFIX + "prefetch";
    /** Publish with the mandatory flag by default, so a message no queue takes fails. Default false. */
    public static final String MANDATORY = PREFIX + "mandatory";
    /** Delivery mode 2 (persistent) for published messages. Default true. */
    public static final String PERSISTENT = PREFIX + "persistent";
    /** Heartbeat interval requested from the broker, in whole seconds (rounded up); {@code 0} takes the broker's. Default 30s. */
    public static final String HEARTBEAT = PREFIX + "heartbeat";
    /** Pause between attempts to recover a lost connection. Default 2s. */
    public static final String RECOVERY_INTERVAL = PREFIX + "recovery-interval";
    /** Client-provided connection name, shown in the management UI and {@code rabbitmqctl list_connections}. Default {@code courier}. */
    public static final String CONNECTION_NAME = PREFIX + "connection-name";

    /** Trust store (file path) with the broker's CA for {@code amqps://}; default: the JVM's trust store. */
    public static final String TLS_TRUSTSTORE = PREFIX + "tls.truststore";
    public static final String TLS_TRUSTSTORE_PASSWORD = PREFIX + "tls.truststore-password";
    /** Type of the trust store; default {@code PKCS12}. */
    public static final String TLS_TRUSTSTORE_TYPE = PREFIX + "tls.truststore-type";
    /** Key store (file path) with the client certificate for mutual TLS; default none. */
    public static final String TLS_KEYSTORE = PREFIX + "tls.keystore";
    public static final String TLS_KEYSTORE_PASSWORD = PREFIX + "tls.keystore-password";
    /** Type of the key store; default {@code PKCS12}. */
    public static final String TLS_KEYSTORE_TYPE = PREFIX + "tls.keystore-type";
    /** TLS protocol for the SSL context; default {@code TLSv1.3}. */
    public static final String TLS_PROTOCOL = PREFIX + "tls.protocol";
    /** Check that the broker's certificate matches its host name. Default true. */
    public static final String TLS_VERIFY_HOSTNAME = PREFIX + "tls.verify-hostname";

    /**
     * Every key of the binding; any other under {@link #PREFIX} is refused when a Courier connects,
     * and so is any URL parameter: the binding reads none (amqp-client's other settings are reached
     * with {@link RabbitBindingProvider#configure}).
     */
    static final ConfigKeys KEYS = ConfigKeys.of(PREFIX, List.of(QUEUE_TYPE, PROVISIONING, PUBLISHER_CHANNELS, PREFETCH, MANDATORY,
            PERSISTENT, HEARTBEAT, RECOVERY_INTERVAL, CONNECTION_NAME, TLS_TRUSTSTORE, TLS_TRUSTSTORE_PASSWORD, TLS_TRUSTSTORE_TYPE,
            TLS_KEYSTORE, TLS_KEYSTORE_PASSWORD, TLS_KEYSTORE_TYPE, TLS_PROTOCOL, TLS_VERIFY_HOSTNAME));

    /** Kinds of queues the binding declares for groups. */
    public enum QueueType {
        CLASSIC, QUORUM;

        String argument() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final CourierConfig config;
    private final QueueType queueType;
    private final boolean provisioning;
    private final int publisherChannels;
    private final int prefetch;
    private final boolean mandatory;
    private final boolean persistent;
    private final Duration heartbeat;
    private final Duration recoveryInterval;
    private final String connectionName;

    RabbitConfig(CourierConfig config) {
        this.config = config;
        String type = config.find(QUEUE_TYPE).orElse("classic").trim().toLowerCase(Locale.ROOT);
        this.queueType = switch (type) {
            case "classic" -> QueueType.CLASSIC;
            case "quorum" -> QueueType.QUORUM;
            default -> throw new ConfigurationException(QUEUE_TYPE + "=" + type + " is invalid; use classic or quorum");
        };
        this.provisioning = config.booleanValue(PROVISIONING, true);
        this.publisherChannels = config.intValue(PUBLISHER_CHANNELS, 4, 1, 256);
        this.prefetch = config.intValue(PREFETCH, 0, 0, 65_535);
        this.mandatory = config.booleanValue(MANDATORY, false);
        this.persistent = config.booleanValue(PERSISTENT, true);
        this.heartbeat = config.duration(HEARTBEAT, Duration.ofSeconds(30));
        this.recoveryInterval = config.duration(RECOVERY_INTERVAL, Duration.ofSeconds(2));
        this.connectionName = config.find(CONNECTION_NAME).orElse("courier");
    }

    public QueueType queueType() {
        return queueType;
    }

    public boolean provisioning() {
        return provisioning;
    }

    public int publisherChannels() {
        return publisherChannels;
    }

    /** The configured prefetch, or 0 when each subscription uses its max in flight. */
    public int prefetch() {
        return prefetch;
    }

    public boolean mandatory() {
        return mandatory;
    }

    public boolean persistent() {
        return persistent;
    }

    public Duration heartbeat() {
        return heartbeat;
    }

    public Duration recoveryInterval() {
        return recoveryInterval;
    }

    public String connectionName() {
        return connectionName;
    }

    String get(String key) {
        return config.get(key);
    }

    CourierConfig courierConfig() {
        return config;
    }
}
