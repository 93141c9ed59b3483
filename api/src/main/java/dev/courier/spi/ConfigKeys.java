package dev.courier.spi;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The configuration keys a module reads under its namespace (e.g. {@code courier.kafka.}), so
 * that a key there which nothing reads, a misspelled one, is refused instead of quietly leaving
 * the default in place. A module declares its keys itself ({@link BindingProvider#configKeys()},
 * {@link InterceptorProvider#configKeys()}); Courier checks them when it connects, for the binding
 * in use and every installed interceptor provider, so keys of a binding that is not in use (a
 * configuration file shared by services on different brokers) are never refused.
 *
 * <p>What is refused: a key under {@link #namespace()} that is neither one of {@link #keys()}
 * (dashes and dots are the same, as in {@link CourierConfig#get}) nor under one of the
 * {@link #passThrough} prefixes, whose keys go to a client library that checks or logs them
 * itself. The {@link ConfigurationException} names the key, where it came from
 * ({@link CourierConfig#origin}) and the closest valid key, or the valid keys under its prefix.
 * A key from an environment variable is refused only when it is close to a valid key (a shell may
 * hold unrelated {@code COURIER_*} variables); other unknown ones are logged once at WARN.
 *
 * <p>URL parameters are checked as {@link #urlParameters(UrlParameters)} says. Immutable and
 * thread-safe.
 */
public final class ConfigKeys {

    private static final Logger log = LoggerFactory.getLogger(ConfigKeys.class);
    /** Environment variables already warned about, so each is logged once per JVM, not at every connect. */
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    /** What the query parameters of a binding's URL are. */
    public enum UrlParameters {
        /** The binding reads none: any parameter is refused. */
        NONE,
        /** Parameter {@code p} stands for the key {@code <namespace>p}: {@code mem://?retention=10}. */
        SHORT_KEYS,
        /**
         * As {@link #SHORT_KEYS}, and a parameter whose name starts with {@code courier.} is that key,
         * the namespace's or the core's: {@code nats://host?mode=core&courier.publish.timeout=5s}.
         */
        KEYS,
        /** Parameters go to the client library, which checks them: none is refused. */
        PASSED_THROUGH
    }

    private final String namespace;
    private final Set<String> keys;
    private final Set<String> passThrough;
    private final UrlParameters urlParameters;
    private final boolean checked;

    private ConfigKeys(String namespace, Set<String> keys, Set<String> passThrough, UrlParameters urlParameters, boolean checked) {
        this.namespace = namespace;
        this.keys = keys;
        this.passThrough = passThrough;
        this.urlParameters = urlParameters;
        this.checked = checked;
    }

    /**
     * The keys a module reads under {@code namespace} (which ends with a dot, e.g.
     * {@code courier.nats.}); every other key there is refused. URL parameters are refused until
     * {@link #urlParameters(UrlParameters)} says otherwise.
     */
    public static ConfigKeys of(String namespace, Collection<String> keys) {
        requireNamespace(namespace);
        Set<String> known = new TreeSet<>();
        for (String k : keys) {
            if (!k.startsWith(namespace)) {
                throw new IllegalArgumentException(k + " is not under the namespace " + namespace);
            }
            known.add(k);
        }
        return new ConfigKeys(namespace, Collections.unmodifiableSet(known), Set.of(), UrlParameters.NONE, true);
    }

    /**
     * A namespace whose keys are not checked: what a binding that declares none gets, so a binding
     * written before keys were checked keeps working as it did.
     */
    public static ConfigKeys unchecked(String namespace) {
        requireNamespace(namespace);
        return new ConfigKeys(namespace, Set.of(), Set.of(), UrlParameters.PASSED_THROUGH, false);
    }

    /** A copy in which every key under each of {@code prefixes} (e.g. {@code courier.kafka.producer.}) is accepted unchecked. */
    public ConfigKeys passThrough(String... prefixes) {
        Set<String> out = new LinkedHashSet<>(passThrough);
        for (String p : prefixes) {
            if (!p.startsWith(namespace) || !p.endsWith(".")) {
                throw new IllegalArgumentException(p + " is not a prefix under the namespace " + namespace + " ending with a dot");
            }
            out.add(p);
        }
        return new ConfigKeys(namespace, keys, Collections.unmodifiableSet(out), urlParameters, checked);
    }

    /** A copy whose URL parameters are read as {@code mode} says. */
    public ConfigKeys urlParameters(UrlParameters mode) {
        return new ConfigKeys(namespace, keys, passThrough, Objects.requireNonNull(mode, "mode"), checked);
    }

    /** The prefix of every key of the module, ending with a dot. */
    public String namespace() {
        return namespace;
    }

    /** Every key the module reads, sorted. */
    public Set<String> keys() {
        return keys;
    }

    /** Prefixes whose keys are passed to a client library unchecked, in the order given. */
    public Set<String> passThroughPrefixes() {
        return passThrough;
    }

    /** How the module reads its URL's query parameters. */
    public UrlParameters urlParameters() {
        return urlParameters;
    }

    /** Whether {@code key}, under the namespace, is one the module reads or passes through (always true when unchecked). */
    public boolean accepts(String key) {
        if (!checked) {
            return true;
        }
        String normal = normal(key);
        for (String k : keys) {
            if (normal(k).equals(normal)) {
                return true;
            }
        }
        for (String p : passThrough) {
            if (normal.startsWith(normal(p)) && normal.length() > p.length()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Refuses the first key under the namespace that the module does not read, and (with
     * {@code url} not null) the first URL parameter it does not read; see the class description.
     *
     * @throws ConfigurationException naming the key, its origin and the closest valid key
     */
    public void check(CourierConfig config, BrokerUrl url) {
        if (!checked) {
            return;
        }
        for (String key : config.withPrefix(namespace).keySet()) {
            String full = namespace + key;
            if (accepts(full)) {
                continue;
            }
            String suggestion = closest(full);
            String origin = config.origin(full);
            if (config.fromEnvironment(full) && suggestion == null) {
                if (WARNED.add(full)) {
                    log.warn("{} sets {}, which no part of Courier reads; it is ignored. Valid keys: {}", origin, full, valid(full));
                }
                continue;
            }
            throw unknown(full, origin, suggestion);
        }
        if (url == null || urlParameters == UrlParameters.PASSED_THROUGH) {
            return;
        }
        for (String name : url.params().keySet()) {
            String origin = "URL parameter '" + name + "' of " + url;
            if (urlParameters == UrlParameters.NONE) {
                throw new ConfigurationException(origin + " is not read: this binding takes no URL parameters; set its keys under "
                        + namespace + " instead (valid keys: " + valid(namespace) + ")");
            }
            String full = name.startsWith("courier.") && urlParameters == UrlParameters.KEYS ? name : namespace + name;
            if (full.startsWith(namespace) ? accepts(full) : CourierConfig.KEYS.contains(full)) {
                continue;
            }
            String suggestion = full.startsWith(namespace) ? closest(full) : closest(full, CourierConfig.KEYS);
            if (suggestion != null && !name.startsWith("courier.") && suggestion.startsWith(namespace)) {
                suggestion = suggestion.substring(namespace.length());
            }
            throw new ConfigurationException(origin + " is not a setting Courier reads" + (suggestion != null
                    ? "; did you mean " + suggestion + "?" : "; valid parameters are the keys under " + namespace
                    + " without that prefix: " + valid(namespace)) + " (see docs/bindings.md)");
        }
    }

    /** The refusal of an unknown {@code key} from {@code origin}, with the suggested key if there is one. */
    private ConfigurationException unknown(String key, String origin, String suggestion) {
        String where = origin != null ? " (from " + origin + ")" : "";
        return new ConfigurationException(key + where + " is not a setting Courier reads, so it would be ignored"
                + (suggestion != null ? "; did you mean " + suggestion + "?" : "; valid keys under " + validPrefix(key) + ": " + valid(key))
                + " (see docs/bindings.md and README.md#configuration)");
    }

    /** The known key, or pass-through prefix with the rest of {@code key}, nearest to {@code key}; null when none is near. */
    public String closest(String key) {
        List<String> candidates = new ArrayList<>(keys);
        int segments = key.split("\\.", -1).length;
        for (String p : passThrough) {
            // courier.kafka.producr.linger.ms is near courier.kafka.producer.linger.ms
            int depth = p.split("\\.", -1).length - 1;
            if (segments > depth) {
                String[] parts = key.split("\\.", -1);
                candidates.add(p + String.join(".", java.util.Arrays.copyOfRange(parts, depth, parts.length)));
            }
        }
        return closest(key, candidates);
    }

    /**
     * The candidate nearest to {@code key} by edit distance (a swap of two letters counts as one
     * edit; dashes and dots are the same), if it is near enough to be a misspelling of it: one edit
     * in a short key, up to three in a long one. Null when none is.
     */
    public static String closest(String key, Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        String k = normal(key);
        for (String c : candidates) {
            int d = distance(k, normal(c));
            if (d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        return best != null && bestDistance <= allowedEdits(key) ? best : null;
    }

    /**
     * Edits that still make a misspelling, by the length of the key's last part: one in up to 4
     * characters ({@code mdoe}), two in up to 8 ({@code treshold}), else three. More would take an
     * unrelated variable such as {@code COURIER_KAFKA_HOME} for a typo.
     */
    static int allowedEdits(String key) {
        int tail = key.length() - key.lastIndexOf('.') - 1;
        return tail <= 4 ? 1 : tail <= 8 ? 2 : 3;
    }

    /** The deepest prefix of {@code key} that known keys share, for the list of valid keys. */
    private String validPrefix(String key) {
        String prefix = namespace;
        String[] parts = key.substring(namespace.length()).split("\\.");
        StringBuilder sb = new StringBuilder(namespace);
        for (int i = 0; i < parts.length - 1; i++) {
            sb.append(parts[i]).append('.');
            String candidate = sb.toString();
            if (keys.stream().anyMatch(k -> normal(k).startsWith(normal(candidate)))) {
                prefix = candidate;
            } else {
                break;
            }
        }
        return prefix;
    }

    /** The valid keys (and pass-through prefixes) under the deepest prefix of {@code key} that has some. */
    private String valid(String key) {
        String prefix = key.equals(namespace) ? namespace : validPrefix(key);
        List<String> out = new ArrayList<>();
        for (String k : keys) {
            if (normal(k).startsWith(normal(prefix))) {
                out.add(k);
            }
        }
        for (String p : passThrough) {
            if (p.startsWith(prefix)) {
                out.add(p + "*");
            }
        }
        return String.join(", ", out);
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    private static String normal(String key) {
        return key.toLowerCase(Locale.ROOT).replace('-', '.').replace('_', '.');
    }

    private static void requireNamespace(String namespace) {
        if (namespace == null || !namespace.startsWith("courier.") || !namespace.endsWith(".") || namespace.length() < 10) {
            throw new IllegalArgumentException("a namespace looks like courier.<module>., got " + namespace);
        }
    }

    @Override
    public String toString() {
        return "ConfigKeys{" + namespace + (checked ? ", " + keys.size() + " keys, pass-through " + passThrough : ", unchecked") + '}';
    }

    /** For tests: forget which environment variables were warned about. */
    static void forgetWarnings() {
        WARNED.clear();
    }
}
