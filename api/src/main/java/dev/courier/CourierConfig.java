package dev.courier;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import dev.courier.spi.ConfigKeys;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Courier's configuration: a key lookup with typed, validated defaults in one place. Immutable
 * and thread-safe.
 *
 * <p>{@link #load()} reads, highest precedence first:
 * <ol>
 *   <li>JVM system properties ({@code -Dcourier.url=kafka://localhost:9092});</li>
 *   <li>environment variables: the key upper-cased with dots and dashes turned into underscores
 *       ({@code COURIER_URL}, {@code COURIER_PUBLISH_TIMEOUT});</li>
 *   <li>{@code courier.properties} at the root of the classpath, if present;</li>
 *   <li>the defaults below ({@code courier.url} defaults to {@code mem://}).</li>
 * </ol>
 * Values set with {@link Builder#set(String, String)} take precedence over all of them.
 *
 * <p>Durations accept {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, ISO-8601 ({@code PT30S})
 * or a plain number of milliseconds. Keys of a binding live under {@code courier.<binding>.}
 * (e.g. {@code courier.kafka.producer.linger.ms}) and are documented with the binding.
 *
 * <p>Keys are checked, so a misspelled one is not quietly ignored. {@link #validate()} (and so
 * {@link Builder#build()}) refuses a key in the core's namespaces ({@code courier.url},
 * {@code courier.publish.}, {@code courier.request.}, {@code courier.close.},
 * {@code courier.connect.}, {@code courier.codec.}, {@code courier.handler.}) other than those
 * below, and a key whose first part is a misspelled namespace of Courier's
 * ({@code courier.kafak.producer.acks}), naming the key, its {@link #origin} and the closest valid
 * key. The keys of a binding or of the reliability layer are checked by that module when a Courier
 * connects ({@link dev.courier.spi.ConfigKeys}). Keys under other first parts, such as
 * {@code courier.test.*} and {@code courier.sample.*}, belong to the testkit, the samples or the
 * application, and are left alone. An environment variable is refused only when it is close to a
 * valid key; other {@code COURIER_*} variables that map to no key Courier reads are logged once at
 * WARN, since a shell may hold unrelated ones ({@code COURIER_HOME}).
 */
public final class CourierConfig {

    private static final Logger log = LoggerFactory.getLogger(CourierConfig.class);

    /** Broker URL; the scheme picks the binding. Default {@value #DEFAULT_URL}. */
    public static final String URL = "courier.url";
    public static final String DEFAULT_URL = "mem://";
    /** How long a publish may wait for the broker's confirm before failing. Default 30s. */
    public static final String PUBLISH_TIMEOUT = "courier.publish.timeout";
    /** Default request timeout of {@link Requester#request(String, Object, Class, Duration)} callers that pass null. Default 30s. */
    public static final String REQUEST_TIMEOUT = "courier.request.timeout";
    /** How long close() waits for outstanding publishes and running handlers. Default 30s. */
    public static final String CLOSE_TIMEOUT = "courier.close.timeout";
    /** How long connect() may take before failing with {@link BrokerUnavailableException}. Default 15s. */
    public static final String CONNECT_TIMEOUT = "courier.connect.timeout";
    /** Comma-separated packages whose classes an untyped payload() may instantiate. Default none. */
    public static final String TRUSTED_PACKAGES = "courier.codec.trusted-packages";
    /** Handler threads: {@code auto} (virtual threads on JDK 21+, else a platform pool), {@code virtual} or {@code platform}. */
    public static final String HANDLER_THREADS = "courier.handler.threads";

    private static final Map<String, String> DEFAULTS = Map.of(
            URL, DEFAULT_URL,
            PUBLISH_TIMEOUT, "30s",
            REQUEST_TIMEOUT, "30s",
            CLOSE_TIMEOUT, "30s",
            CONNECT_TIMEOUT, "15s",
            TRUSTED_PACKAGES, "",
            HANDLER_THREADS, "auto");

    private final Map<String, String> values;
    /** Where each value came from: "system property", "environment variable COURIER_X", ... */
    private final Map<String, String> origins;
    /** Keys whose value came from an environment variable. */
    private final Set<String> fromEnvironment;

    private CourierConfig(Map<String, String> values, Map<String, String> origins, Set<String> fromEnvironment) {
        this.values = Collections.unmodifiableMap(values);
        this.origins = Map.copyOf(origins);
        this.fromEnvironment = Set.copyOf(fromEnvironment);
    }

    /** Loads from system properties, environment and {@code courier.properties}, in that order of precedence. */
    public static CourierConfig load() {
        return builder().build();
    }

    /** A configuration with just a URL over the defaults (no system properties, no environment). */
    public static CourierConfig ofUrl(String url) {
        return builder().withoutEnvironment().url(url).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The value of {@code key}, or its default, or {@code null}. A key with dashes is also found under its dotted
     * spelling ({@code courier.reliability.retry.max-backoff} as {@code ...retry.max.backoff}),
     * which is what an environment variable such as {@code COURIER_RELIABILITY_RETRY_MAX_BACKOFF}
     * becomes for keys this class does not know, e.g. those of bindings and the reliability layer.
     */
    public String get(String key) {
        String v = values.get(key);
        if (v == null && key.indexOf('-') >= 0) {
            v = values.get(key.replace('-', '.'));
        }
        return v != null ? v : DEFAULTS.get(key);
    }

    public Optional<String> find(String key) {
        return Optional.ofNullable(get(key));
    }

    /**
     * Where the value of {@code key} came from, for error messages: {@code system property},
     * {@code environment variable COURIER_...}, the classpath resource ({@code courier.properties})
     * or {@code CourierConfig.Builder.set}; {@code null} for a key that is not set (a default).
     */
    public String origin(String key) {
        String o = origins.get(key);
        return o != null || key.indexOf('-') < 0 ? o : origins.get(key.replace('-', '.'));
    }

    /** Whether the value of {@code key} came from an environment variable (see {@link #origin}). */
    public boolean fromEnvironment(String key) {
        return fromEnvironment.contains(key) || fromEnvironment.contains(key.replace('-', '.'));
    }

    public String url() {
        return get(URL);
    }

    public Duration duration(String key, Duration defaultValue) {
        String v = get(key);
        if (v == null || v.isBlank()) {
            return defaultValue;
        }
        Duration d = parseDuration(key, v);
        if (d.isNegative()) {
            throw new ConfigurationException(key + "=" + v + " is negative; durations must be zero or more");
        }
        return d;
    }

    public Duration publishTimeout() {
        return duration(PUBLISH_TIMEOUT, Duration.ofSeconds(30));
    }

    public Duration requestTimeout() {
        return duration(REQUEST_TIMEOUT, Duration.ofSeconds(30));
    }

    public Duration closeTimeout() {
        return duration(CLOSE_TIMEOUT, Duration.ofSeconds(30));
    }

    public Duration connectTimeout() {
        return duration(CONNECT_TIMEOUT, Duration.ofSeconds(15));
    }

    public List<String> trustedPackages() {
        String v = get(TRUSTED_PACKAGES);
        if (v == null || v.isBlank()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String p : v.split(",")) {
            if (!p.isBlank()) {
                out.add(p.trim());
            }
        }
        return out;
    }

    public int intValue(String key, int defaultValue, int min, int max) {
        String v = get(key);
        if (v == null || v.isBlank()) {
            return defaultValue;
        }
        try {
            int i = Integer.parseInt(v.trim());
            if (i < min || i > max) {
                throw new ConfigurationException(key + "=" + v + " is out of range; allowed " + min + " to " + max);
            }
            return i;
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + "=" + v + " is not a whole number; allowed " + min + " to " + max, e);
        }
    }

    public boolean booleanValue(String key, boolean defaultValue) {
        String v = get(key);
        if (v == null || v.isBlank()) {
            return defaultValue;
        }
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new ConfigurationException(key + "=" + v + " is not a boolean; use true or false");
        };
    }

    /**
     * Every key under {@code prefix} with the prefix removed, e.g. {@code withPrefix("courier.kafka.producer.")}
     * gives {@code linger.ms -> 5}. From environment variables the rest of the name is lower-cased
     * with underscores turned into dots ({@code COURIER_KAFKA_PRODUCER_LINGER_MS} gives {@code linger.ms}).
     */
    public Map<String, String> withPrefix(String prefix) {
        Map<String, String> out = new TreeMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(prefix) && k.length() > prefix.length()) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    /**
     * Checks every known key's value and refuses unknown keys in the core's namespaces (see the
     * class description); throws {@link ConfigurationException} on the first bad one.
     */
    public CourierConfig validate() {
        checkKeys();
        String url = url();
        if (url == null || !url.contains("://")) {
            throw new ConfigurationException(URL + "='" + url + "' is not a URL; expected scheme://..., e.g. mem://, "
                    + "kafka://localhost:9092, amqp://guest:guest@localhost:5672/, nats://localhost:4222");
        }
        publishTimeout();
        requestTimeout();
        closeTimeout();
        connectTimeout();
        String threads = get(HANDLER_THREADS);
        if (!List.of("auto", "virtual", "platform").contains(threads)) {
            throw new ConfigurationException(HANDLER_THREADS + "=" + threads + " is invalid; use auto, virtual or platform");
        }
        return this;
    }

    /** Refuses (or, from the environment and far from any valid key, logs) a key no part of Courier reads; see the class description. */
    private void checkKeys() {
        for (String key : values.keySet()) {
            if (!key.startsWith("courier.")) {
                continue;
            }
            String rest = key.substring("courier.".length());
            int dot = rest.indexOf('.');
            String first = dot < 0 ? rest : rest.substring(0, dot);
            String suggestion;
            if (CORE_NAMESPACES.contains(first)) {
                if (KNOWN_NORMAL.contains(key.replace('-', '.'))) {
                    continue;
                }
                suggestion = ConfigKeys.closest(key, KEYS);
            } else if (MODULE_NAMESPACES.contains(first) || OPEN_NAMESPACES.contains(first)) {
                continue; // a module checks its own keys when it is in use
            } else {
                String near = ConfigKeys.closest("courier." + first, NAMESPACE_KEYS);
                if (near == null) {
                    if (fromEnvironment(key)) {
                        warnOnce(key, "courier." + first + " is not a namespace of Courier's");
                    }
                    continue; // not a namespace of Courier's: the application's or another tool's
                }
                String corrected = near + (dot < 0 ? "" : rest.substring(dot));
                // a misspelled core namespace gets a core key, if one is near; a module's keys are not known here
                suggestion = CORE_NAMESPACES.contains(near.substring("courier.".length())) ? ConfigKeys.closest(corrected, KEYS) : corrected;
            }
            if (fromEnvironment(key) && suggestion == null) {
                warnOnce(key, "valid keys: " + String.join(", ", KEYS));
                continue;
            }
            String where = origin(key) != null ? " (from " + origin(key) + ")" : "";
            throw new ConfigurationException(key + where + " is not a setting Courier reads, so it would be ignored"
                    + (suggestion != null ? "; did you mean " + suggestion + "?" : "; the core's keys are " + String.join(", ", KEYS))
                    + " (see README.md#configuration)");
        }
    }

    private void warnOnce(String key, String hint) {
        if (WARNED.add(key)) {
            log.warn("{} sets {}, which no part of Courier reads; it is ignored ({})", origin(key), key, hint);
        }
    }

    /** Environment variables already warned about: each is logged once per JVM, not at every build. */
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    /**
     * All explicitly set values, secrets masked, for logs: the values of secret keys
     * ({@link #isSecretName}), and the password of any URL, whatever its key (the broker URL, an
     * idempotency store's {@code redis-url} or {@code jdbc-url}), see {@link #maskUrl}.
     */
    public Map<String, String> describe() {
        Map<String, String> out = new TreeMap<>();
        values.forEach((k, v) -> out.put(k, isSecret(k) ? "****" : (v.contains("://") ? maskUrl(v) : v)));
        return out;
    }

    @Override
    public String toString() {
        return "CourierConfig" + describe();
    }

    /**
     * {@code scheme://user:secret@host} becomes {@code scheme://user:****@host}; query parameters
     * whose names say they hold a secret ({@link #isSecretName}: {@code ?password=...},
     * {@code ?sasl.jaas.config=...}) are masked too.
     */
    public static String maskUrl(String url) {
        if (url == null) {
            return null;
        }
        int scheme = url.indexOf("://");
        if (scheme < 0) {
            return url;
        }
        int userInfoEnd = dev.courier.spi.BrokerUrl.userInfoEnd(url.substring(scheme + 3));
        if (userInfoEnd < 0) {
            return maskQuery(url, url.indexOf('?', scheme));
        }
        int at = scheme + 3 + userInfoEnd;
        String userInfo = url.substring(scheme + 3, at);
        int colon = userInfo.indexOf(':');
        // a lone token (nats://token@host) is a secret too
        String prefix = url.substring(0, scheme + 3) + (colon < 0 ? "****" : userInfo.substring(0, colon) + ":****");
        String masked = prefix + url.substring(at);
        return maskQuery(masked, masked.indexOf('?', prefix.length()));
    }

    private static String maskQuery(String url, int question) {
        if (question < 0) {
            return url;
        }
        StringBuilder sb = new StringBuilder(url.length()).append(url, 0, question + 1);
        String[] params = url.substring(question + 1).split("&", -1);
        for (int i = 0; i < params.length; i++) {
            String p = params[i];
            int eq = p.indexOf('=');
            String name = eq < 0 ? p : p.substring(0, eq);
            sb.append(i > 0 ? "&" : "");
            if (eq >= 0 && isSecretName(name)) {
                sb.append(p, 0, eq + 1).append("****");
            } else {
                sb.append(p);
            }
        }
        return sb.toString();
    }

    private static boolean isSecret(String key) {
        return isSecretName(key);
    }

    /**
     * Whether a setting or URL parameter of this name holds a secret, whose value is then shown as
     * {@code ****}: names with {@code pass}, {@code secret}, {@code token}, {@code credentials} or
     * {@code sasl.jaas}, and names ending in {@code .key} (a client's {@code ssl.keystore.key}).
     */
    public static boolean isSecretName(String name) {
        String k = name.toLowerCase(Locale.ROOT);
        return k.contains("pass") || k.contains("secret") || k.contains("token") || k.contains("sasl.jaas")
                || k.endsWith(".key") || k.contains("credentials");
    }

    static Duration parseDuration(String key, String raw) {
        Duration d = parseAnyDuration(key, raw);
        if (d.compareTo(MAX_DURATION) > 0) {
            // timeouts and delays are kept in nanoseconds, which go up to about 292 years
            throw tooLong(key, raw, null);
        }
        return d;
    }

    /** The longest duration a setting may have: what fits in nanoseconds (about 292 years). */
    private static final Duration MAX_DURATION = Duration.ofNanos(Long.MAX_VALUE);

    private static Duration parseAnyDuration(String key, String raw) {
        String v = raw.trim().toLowerCase(Locale.ROOT);
        try {
            if (v.startsWith("pt") || v.startsWith("p")) {
                return Duration.parse(raw.trim().toUpperCase(Locale.ROOT));
            }
            if (v.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2).trim()));
            }
            if (v.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1).trim()));
            }
            if (v.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1).trim()));
            }
            if (v.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1).trim()));
            }
            return Duration.ofMillis(Long.parseLong(v));
        } catch (ArithmeticException e) {
            throw tooLong(key, raw, e);
        } catch (DateTimeParseException e) {
            if (e.getCause() instanceof ArithmeticException) { // Duration.parse reports an overflow this way
                throw tooLong(key, raw, e);
            }
            throw new ConfigurationException(key + "=" + raw + " is not a duration; use e.g. 500ms, 30s, 5m, 1h or PT30S", e);
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + "=" + raw + " is not a duration; use e.g. 500ms, 30s, 5m, 1h or PT30S", e);
        }
    }

    private static ConfigurationException tooLong(String key, String raw, Exception e) {
        return new ConfigurationException(key + "=" + raw + " is too long: a setting's duration is at most about 292 years "
                + "(what fits in nanoseconds); use a shorter one", e);
    }

    /** Builds a {@link CourierConfig}. Not thread-safe. */
    public static final class Builder {
        private final Map<String, String> explicit = new LinkedHashMap<>();
        private boolean environment = true;
        private Map<String, String> env = System.getenv();
        private Properties system = System.getProperties();
        private String resource = "courier.properties";

        private Builder() {
        }

        /** Sets {@code courier.url}; {@code null} is refused like any other null value (see {@link #set}). */
        public Builder url(String url) {
            return set(URL, url);
        }

        /**
         * Sets {@code key}; explicit values win over every other source. A {@code null} value is
         * refused with a {@link ConfigurationException}: it is mostly an unset variable, and
         * ignoring it would quietly use the environment or the default ({@code mem://} for the URL,
         * a broker inside this process) instead of what the caller meant.
         */
        public Builder set(String key, String value) {
            if (key == null || key.isBlank()) {
                throw new IllegalArgumentException("config key must be non-empty");
            }
            if (value == null) {
                throw new ConfigurationException(key + " is null; give a value, or leave the key out to use "
                        + (key.equals(URL) ? "courier.url from system properties, COURIER_URL or courier.properties (else mem://)"
                                : "its value from system properties, the environment or courier.properties, else its default"));
            }
            explicit.put(key, value);
            return this;
        }

        public Builder setAll(Map<String, String> values) {
            values.forEach(this::set);
            return this;
        }

        /** Ignores system properties, environment and {@code courier.properties}: explicit values and defaults only. */
        public Builder withoutEnvironment() {
            this.environment = false;
            return this;
        }

        /** Reads environment variables from {@code env} instead of the process environment (for tests). */
        public Builder environment(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        /** Reads system properties from {@code props} instead of the JVM's (for tests). */
        public Builder systemProperties(Properties props) {
            this.system = props;
            return this;
        }

        /** Reads this classpath resource instead of {@code courier.properties}; {@code null} for none. */
        public Builder resource(String resource) {
            this.resource = resource;
            return this;
        }

        public CourierConfig build() {
            Map<String, String> merged = new LinkedHashMap<>();
            Map<String, String> origins = new LinkedHashMap<>();
            Set<String> fromEnv = new java.util.HashSet<>();
            if (environment) {
                if (resource != null) {
                    readResource(resource).forEach((k, v) -> override(merged, origins, k, v, resource));
                }
                env.forEach((k, v) -> {
                    if (k.startsWith("COURIER_")) {
                        String key = envToKey(k);
                        override(merged, origins, key, v, "environment variable " + k);
                        fromEnv.add(key);
                    }
                });
                for (String name : system.stringPropertyNames()) {
                    if (name.startsWith("courier.")) {
                        override(merged, origins, name, system.getProperty(name), "system property");
                    }
                }
            }
            explicit.forEach((k, v) -> override(merged, origins, k, v, "CourierConfig.Builder.set"));
            fromEnv.removeIf(k -> !origins.getOrDefault(k, "").startsWith("environment variable "));
            return new CourierConfig(merged, origins, fromEnv).validate();
        }

        /**
         * Puts {@code key} in place of every spelling of it from earlier sources: an environment
         * variable turns {@code max-backoff} into {@code max.backoff}, and {@link #get} finds
         * either, so a later source must replace the other spelling too to take precedence.
         */
        private static void override(Map<String, String> merged, Map<String, String> origins, String key, String value, String origin) {
            String normal = key.replace('-', '.');
            merged.keySet().removeIf(k -> !k.equals(key) && k.replace('-', '.').equals(normal));
            origins.keySet().removeIf(k -> !k.equals(key) && k.replace('-', '.').equals(normal));
            merged.put(key, value);
            origins.put(key, origin);
        }

        /** {@code COURIER_KAFKA_PRODUCER_LINGER_MS} to {@code courier.kafka.producer.linger.ms}; known keys keep their dashes. */
        static String envToKey(String env) {
            String dotted = env.toLowerCase(Locale.ROOT).replace('_', '.');
            for (String known : KNOWN_KEYS) {
                if (known.replace('-', '.').equals(dotted)) {
                    return known;
                }
            }
            return dotted;
        }

        private static Map<String, String> readResource(String name) {
            ClassLoader cl = Thread.currentThread().getContextClassLoader();
            if (cl == null) {
                cl = CourierConfig.class.getClassLoader();
            }
            try (InputStream in = cl.getResourceAsStream(name)) {
                if (in == null) {
                    return Map.of();
                }
                Properties p = new Properties();
                p.load(in);
                Map<String, String> out = new LinkedHashMap<>();
                for (String k : p.stringPropertyNames()) {
                    out.put(k, p.getProperty(k).trim());
                }
                return out;
            } catch (IOException e) {
                throw new ConfigurationException("cannot read " + name + " from the classpath: " + e.getMessage(), e);
            }
        }
    }

    private static final List<String> KNOWN_KEYS = Arrays.asList(URL, PUBLISH_TIMEOUT, REQUEST_TIMEOUT, CLOSE_TIMEOUT,
            CONNECT_TIMEOUT, TRUSTED_PACKAGES, HANDLER_THREADS);

    /** Every key of the core (those of bindings and the reliability layer are declared by them, see {@link ConfigKeys}). */
    public static final Set<String> KEYS = Collections.unmodifiableSet(new java.util.TreeSet<>(KNOWN_KEYS));

    private static final Set<String> KNOWN_NORMAL = Set.copyOf(KNOWN_KEYS.stream().map(k -> k.replace('-', '.')).toList());

    /** First parts of the core's keys: {@code courier.<part>...}; a key under one of them must be one of {@link #KEYS}. */
    private static final Set<String> CORE_NAMESPACES = Set.of("url", "publish", "request", "close", "connect", "codec", "handler");

    /**
     * Namespaces of Courier's modules, checked by the module when a Courier uses it (so keys of a
     * binding not in use are accepted): mem, the bindings, the reliability layer.
     */
    private static final Set<String> MODULE_NAMESPACES = Set.of("mem", "kafka", "rabbitmq", "nats", "reliability");

    /** Namespaces read by the testkit ({@code courier.test.*}), the samples ({@code courier.sample.*}) and the docs' generator: not checked. */
    private static final Set<String> OPEN_NAMESPACES = Set.of("test", "sample", "docs");

    /** {@code courier.<namespace>} of every namespace above, to suggest the right one for a misspelled one. */
    private static final List<String> NAMESPACE_KEYS = java.util.stream.Stream.of(CORE_NAMESPACES, MODULE_NAMESPACES, OPEN_NAMESPACES)
            .flatMap(Set::stream).map(n -> "courier." + n).sorted().toList();
}
