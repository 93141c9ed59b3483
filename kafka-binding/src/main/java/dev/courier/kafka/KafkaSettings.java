package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.spi.BrokerUrl;
import dev.courier.spi.ConfigKeys;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Kafka binding's configuration, read once from {@link CourierConfig} and the URL. Every
 * native client property can be set: {@code courier.kafka.common.*} applies to producer,
 * consumers and admin (SASL/SSL go here), {@code courier.kafka.producer.*},
 * {@code courier.kafka.consumer.*} and {@code courier.kafka.admin.*} to one client; URL query
 * parameters count as common properties ({@code kafka://host:9093?security.protocol=SSL}).
 * Precedence, lowest first: Courier's defaults, URL parameters, {@code common.*}, the client's own
 * prefix; the key and value (de)serializers are Courier's unless the client's own prefix sets them.
 * Any other key under {@code courier.kafka.} is refused when a Courier connects ({@link #KEYS}).
 */
final class KafkaSettings {

    /** Longest retry topic name: Courier's topic name limit (Kafka's own is 249). */
    static final int MAX_TOPIC_NAME = dev.courier.Destinations.MAX_LENGTH;

    /**
     * The retry topic of a group subscription: {@code <topic>.<group>.retry}. A name over Courier's
     * limit of {@value dev.courier.Destinations#MAX_LENGTH} characters (a long topic and group with
     * a dead-letter topic of their own, so the name check of the default one did not apply) keeps
     * its beginning and gets a hash of the whole before {@code .retry}: the same name on every member.
     */
    static String retryTopic(String topic, String group) {
        String name = topic + "." + group + ".retry";
        if (name.length() <= MAX_TOPIC_NAME) {
            return name;
        }
        String hash = String.format("%08x%08x", name.hashCode(), new StringBuilder(name).reverse().toString().hashCode());
        String head = name.substring(0, MAX_TOPIC_NAME - ".retry".length() - 1 - hash.length());
        return head + "-" + hash + ".retry";
    }

    static final String PREFIX = "courier.kafka.";
    /** Partitions of topics Courier creates. Default 3. */
    static final String PARTITIONS = PREFIX + "topic.partitions";
    /** Replication factor of topics Courier creates. Default 1. */
    static final String REPLICATION = PREFIX + "topic.replication-factor";
    /** Create missing topics (true) or fail with a clear error (false). Default true. */
    static final String PROVISIONING = PREFIX + "provisioning";
    /** How often finished offsets are committed. Default 500ms. */
    static final String COMMIT_INTERVAL = PREFIX + "commit.interval";
    /** How long a revoked partition waits for its running records before its offsets are committed. Default 10s. */
    static final String REVOKE_TIMEOUT = PREFIX + "revoke.timeout";
    /**
     * Records a subscription may hold (running, waiting behind their key, or finished above an
     * unfinished one) before it pauses fetching; the larger of this and the subscription's max in
     * flight applies. Default 20000: pausing stalls the consumer's fetch pipeline, which cost up to
     * half the throughput at a bound of 2048 in the benchmarks.
     */
    static final String MAX_HELD = PREFIX + "max-held";
    /** How long subscribe() waits for the first partition assignment. Default 30s. */
    static final String ASSIGN_TIMEOUT = PREFIX + "assign.timeout";
    /**
     * A group subscription's nack with at least this delay goes through the retry topic
     * {@code <topic>.<group>.retry} instead of waiting in process; {@code 0} or {@code off} keeps
     * every redelivery in process. Default 30 s. Trade-off: a nack at or above it releases its key
     * (later records of the key may run first); below it the record waits in process and keeps its
     * key (see docs/bindings/kafka.md).
     */
    static final String RETRY_TOPIC_THRESHOLD = PREFIX + "retry-topic.threshold";
    /** Default of {@link #RETRY_TOPIC_THRESHOLD}: 30 seconds. */
    static final Duration DEFAULT_RETRY_TOPIC_THRESHOLD = Duration.ofSeconds(30);
    /**
     * Whether a thread inside {@code publish()} settles the publishes the broker answered meanwhile
     * (true, the default), or the producer's I/O thread settles every publish (false), see
     * {@link KafkaConfirms}. Either way a stage's callbacks must be short and must not wait for
     * another publish's confirm.
     */
    static final String CONFIRMS_ON_SENDERS = PREFIX + "publish.confirms-on-senders";
    /**
     * System properties of courier-testkit's embedded broker ({@code EmbeddedKafka}), which live in
     * this namespace; the binding does not read them but must not refuse a test JVM started with them.
     */
    static final String TESTKIT_CLASSPATH = PREFIX + "classpath";
    static final String TESTKIT_JVM_OPTIONS = PREFIX + "jvmOptions";

    /**
     * The binding's keys: those above, the four client prefixes passed to kafka-clients unchecked
     * (the clients log what they do not use), and URL parameters, which are client properties too.
     */
    static final ConfigKeys KEYS = ConfigKeys.of(PREFIX, List.of(PARTITIONS, REPLICATION, PROVISIONING, COMMIT_INTERVAL,
                    REVOKE_TIMEOUT, MAX_HELD, ASSIGN_TIMEOUT, RETRY_TOPIC_THRESHOLD, CONFIRMS_ON_SENDERS, TESTKIT_CLASSPATH,
                    TESTKIT_JVM_OPTIONS))
            .passThrough(PREFIX + "common.", PREFIX + "producer.", PREFIX + "consumer.", PREFIX + "admin.")
            .urlParameters(ConfigKeys.UrlParameters.PASSED_THROUGH);

    final String bootstrap;
    final Map<String, Object> common = new HashMap<>();
    final Map<String, Object> producer = new HashMap<>();
    final Map<String, Object> consumer = new HashMap<>();
    final Map<String, Object> admin = new HashMap<>();
    final int partitions;
    final short replication;
    final boolean provisioning;
    final boolean confirmsOnSenders;
    final Duration commitInterval;
    final Duration revokeTimeout;
    final Duration assignTimeout;
    final int maxHeld;
    final Duration connectTimeout;
    final Duration closeTimeout;
    /** Nacks with at least this delay go through the retry topic; {@code null}: retry topics are off. */
    final Duration retryThreshold;
    /**
     * The producer's {@code delivery.timeout.ms} when it is no longer than {@code courier.publish.timeout}
     * (the producer then fails every record the broker has not confirmed within the publish timeout);
     * {@code null} when it is longer and the core's own publish timeout applies.
     */
    final Duration deliveryTimeout;

    KafkaSettings(BrokerUrl url, CourierConfig config) {
        this.bootstrap = url.hostList(9092);
        common.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        common.putAll(url.params());
        common.putAll(config.withPrefix(PREFIX + "common."));
        Object servers = common.get(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG);
        if (servers == null || servers.toString().isBlank()) {
            throw new ConfigurationException("the Kafka URL " + url + " names no broker; give at least one, as in kafka://localhost:9092"
                    + " (several: kafka://host1:9092,host2:9092)");
        }

        // Courier's defaults are defaults: a URL parameter or common. property of the same name wins
        // (kafka://old-broker:9092?group.protocol=classic for a broker without KIP-848)
        producer.put(ProducerConfig.ACKS_CONFIG, "all");
        producer.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producer.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        producer.putAll(common);
        producer.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        producer.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer.putAll(config.withPrefix(PREFIX + "producer."));
        this.deliveryTimeout = deliveryTimeout(producer, config.publishTimeout());
        // send() blocks while the producer has no metadata for the topic (a broker that is down) or no
        // room in its buffer: for at most the publish timeout, not the client's 60 s
        producer.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(Math.min(config.publishTimeout().toMillis(), DEFAULT_MAX_BLOCK_MS)));

        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // the consumer rebalance protocol (KIP-848): incremental, broker-driven assignment, no stop-the-world joins
        consumer.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        consumer.putAll(common);
        consumer.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        consumer.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        consumer.putAll(config.withPrefix(PREFIX + "consumer."));

        admin.putAll(common);
        admin.putAll(config.withPrefix(PREFIX + "admin."));

        this.partitions = config.intValue(PARTITIONS, 3, 1, 10_000);
        this.replication = (short) config.intValue(REPLICATION, 1, 1, 32);
        this.provisioning = config.booleanValue(PROVISIONING, true);
        this.confirmsOnSenders = config.booleanValue(CONFIRMS_ON_SENDERS, true);
        this.commitInterval = config.duration(COMMIT_INTERVAL, Duration.ofMillis(500));
        this.revokeTimeout = config.duration(REVOKE_TIMEOUT, Duration.ofSeconds(10));
        this.assignTimeout = config.duration(ASSIGN_TIMEOUT, Duration.ofSeconds(30));
        this.maxHeld = config.intValue(MAX_HELD, 20_000, 1, 10_000_000);
        this.connectTimeout = config.connectTimeout();
        this.closeTimeout = config.closeTimeout();
        String threshold = config.get(RETRY_TOPIC_THRESHOLD);
        Duration t = threshold != null && threshold.trim().equalsIgnoreCase("off") ? Duration.ZERO
                : config.duration(RETRY_TOPIC_THRESHOLD, DEFAULT_RETRY_TOPIC_THRESHOLD);
        this.retryThreshold = t.isZero() ? null : t;
    }

    /**
     * Makes a Kafka client of {@code props}. The clients check their settings in their constructors
     * and talk to no broker there, so whatever a constructor throws is a configuration error: a
     * {@link ConfigException}, or (admin, producer and consumer alike) a {@link KafkaException} around
     * the {@code IllegalArgumentException} of a JAAS config that is missing or malformed. It becomes a
     * {@link ConfigurationException} with the innermost message, which says what is wrong, rather than
     * "Failed to create new KafkaAdminClient" reported as an unreachable broker.
     */
    static <T> T client(String what, Map<String, Object> props, Function<Map<String, Object>, T> constructor) {
        try {
            return constructor.apply(props);
        } catch (KafkaException | IllegalArgumentException e) {
            throw refused(what, props, e);
        }
    }

    /** A client's refusal of {@code props} as a {@link ConfigurationException} that shows no secret (see {@link #client}). */
    static ConfigurationException refused(String what, Map<String, Object> props, RuntimeException e) {
        Throwable innermost = e;
        for (int depth = 0; depth < 16 && innermost.getCause() != null && innermost.getCause() != innermost; depth++) {
            innermost = innermost.getCause();
        }
        String reason = innermost.getMessage() != null ? innermost.getMessage() : innermost.toString();
        String masked = masked(reason, props);
        boolean showsSecret = !masked.equals(reason);
        for (Throwable t = e; t != null && !showsSecret; t = t.getCause() == t ? null : t.getCause()) {
            showsSecret = t.getMessage() != null && !masked(t.getMessage(), props).equals(t.getMessage());
            if (t == innermost) {
                break;
            }
        }
        String hint = reason.contains("JAAS")
                ? "; with SASL, set " + PREFIX + "common.sasl.jaas.config (or the URL parameter sasl.jaas.config), as in "
                        + "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\";"
                : "; check the " + PREFIX + "* keys and the URL's parameters";
        // the client's own exceptions may quote a secret (a token of a malformed JAAS config): then they are left out
        return new ConfigurationException("the Kafka " + what + " refused its settings: " + masked + hint, showsSecret ? null : e);
    }

    /**
     * {@code message} with every piece of a secret setting's value ({@link CourierConfig#isSecretName}) it
     * shows replaced by {@code ****}: the whole value, each quoted or {@code key=value} value in it, and each
     * single-quoted token of the message found in it other than a key (JAAS errors quote the token they
     * stumbled on, which may be a piece of an unquoted password).
     */
    static String masked(String message, Map<String, Object> props) {
        String out = message;
        for (Map.Entry<String, Object> e : props.entrySet()) {
            if (e.getValue() == null || !CourierConfig.isSecretName(e.getKey())) {
                continue;
            }
            String secret = e.getValue() instanceof Password pw ? pw.value() : e.getValue().toString();
            if (secret.isBlank()) {
                continue;
            }
            out = out.replace(secret, "****");
            Matcher values = SECRET_PARTS.matcher(secret);
            while (values.find()) {
                String v = values.group(1) != null ? values.group(1) : values.group(2);
                if (v != null && !v.isEmpty()) {
                    // whole words only: a short value (a user name "app") must not mask every word that contains it
                    out = out.replaceAll("(?<![\\w.-])" + Pattern.quote(v) + "(?![\\w.-])", "****");
                }
            }
            Matcher quoted = QUOTED.matcher(out);
            StringBuilder sb = new StringBuilder();
            while (quoted.find()) {
                String token = quoted.group(1);
                boolean part = secret.contains(token) && !Pattern.compile("(^|\\s)" + Pattern.quote(token) + "\\s*=").matcher(secret).find();
                quoted.appendReplacement(sb, part ? "'****'" : Matcher.quoteReplacement(quoted.group()));
            }
            out = quoted.appendTail(sb).toString();
        }
        return out;
    }

    /** Values in a secret setting: {@code key="value"} (group 1) or {@code key=value} (group 2). */
    private static final Pattern SECRET_PARTS = Pattern.compile("=\\s*(?:\"([^\"]*)\"|([^\\s;\"]+))");
    /** A single-quoted token of an error message. */
    private static final Pattern QUOTED = Pattern.compile("'([^']+)'");

    /**
     * Makes {@code courier.publish.timeout} the producer's {@code delivery.timeout.ms} unless the
     * latter is set: the producer already fails what the broker has not confirmed within its
     * delivery timeout (120 s by default), so with the two equal the core need not track each publish
     * a second time. The producer requires {@code linger.ms + request.timeout.ms <= delivery.timeout.ms};
     * an unset request timeout (30 s) is shortened to fit, but not below a second: shorter publish
     * timeouts stay with the core rather than cut the producer's requests that short.
     *
     * @return the delivery timeout when it is at most the publish timeout, else null
     */
    static Duration deliveryTimeout(Map<String, Object> producer, Duration publishTimeout) {
        Long delivery = millis(producer.get(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG));
        if (delivery != null) {
            return delivery <= publishTimeout.toMillis() ? Duration.ofMillis(delivery) : null;
        }
        if (producer.containsKey(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG)) {
            return null; // not a number: the producer reports it
        }
        Object lingerSet = producer.get(ProducerConfig.LINGER_MS_CONFIG);
        Long linger = lingerSet == null ? Long.valueOf(DEFAULT_LINGER_MS) : millis(lingerSet);
        Long request = millis(producer.get(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG));
        if (linger == null || (request == null && producer.containsKey(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG))) {
            return null;
        }
        long deliveryMs = publishTimeout.toMillis();
        long requestMs = request != null ? request : Math.min(DEFAULT_REQUEST_TIMEOUT_MS, deliveryMs - linger);
        if (requestMs < MIN_REQUEST_TIMEOUT_MS || linger + requestMs > deliveryMs) {
            return null;
        }
        producer.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(deliveryMs));
        if (request == null && requestMs < DEFAULT_REQUEST_TIMEOUT_MS) {
            producer.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(requestMs));
        }
        return Duration.ofMillis(deliveryMs);
    }

    /** The producer's own defaults, for settings the map leaves out. */
    private static final long DEFAULT_LINGER_MS = 5;
    private static final long DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
    private static final long DEFAULT_MAX_BLOCK_MS = 60_000;
    private static final long MIN_REQUEST_TIMEOUT_MS = 1_000;

    /** A Kafka millisecond setting as given in config or code; null when absent or not a whole number. */
    private static Long millis(Object value) {
        if (value instanceof Number n) {
            return n.longValue();
        }
        if (value == null) {
            return null;
        }
        try {
            return Long.parseLong(value.toString().trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
