package dev.courier.reliability;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.reliability.idempotency.IdempotencyStore;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;
import dev.courier.reliability.idempotency.JdbcIdempotencyStore;
import dev.courier.reliability.idempotency.RedisIdempotencyStore;
import dev.courier.spi.ConfigKeys;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static dev.courier.reliability.Reliability.*;

/** Reads the {@code courier.reliability.*} keys into a {@link Reliability}. */
final class ReliabilityConfig {

    static final String PREFIX = "courier.reliability.";

    /** Every key of the policy; any other under {@link #PREFIX} is refused (see {@link ConfigKeys}). */
    static final ConfigKeys KEYS = ConfigKeys.of(PREFIX, List.of(ENABLED, RETRY_ATTEMPTS, RETRY_INITIAL_BACKOFF, RETRY_MULTIPLIER,
            RETRY_MAX_BACKOFF, RETRY_JITTER, RETRY_REDELIVER_AFTER, HANDLER_TIMEOUT, BREAKER_ENABLED, BREAKER_FAILURE_RATE,
            BREAKER_SLIDING_WINDOW, BREAKER_MINIMUM_CALLS, BREAKER_WAIT_IN_OPEN, IDEMPOTENCY_STORE, IDEMPOTENCY_REDIS_URL,
            IDEMPOTENCY_REDIS_KEY_PREFIX, IDEMPOTENCY_JDBC_URL, IDEMPOTENCY_JDBC_USER, IDEMPOTENCY_JDBC_PASSWORD,
            IDEMPOTENCY_JDBC_TABLE, IDEMPOTENCY_JDBC_CREATE_TABLE, IDEMPOTENCY_JDBC_POOL_SIZE, IDEMPOTENCY_LEASE,
            IDEMPOTENCY_RETENTION, IDEMPOTENCY_MAX_ENTRIES, IDEMPOTENCY_IN_PROGRESS_DELAY));

    private static final String BREAKER_PREFIX = PREFIX + "circuit-breaker.";

    private ReliabilityConfig() {
    }

    /**
     * Whether {@code config} asks for the policy: {@code enabled=true}, or any other key of the
     * policy set. Only keys the policy reads count: an unknown one (an environment variable that
     * was only warned about) must not switch the policy on.
     */
    static boolean enabled(CourierConfig config) {
        Reader r = new Reader(config);
        String enabled = r.raw(ENABLED);
        if (enabled != null && !enabled.isBlank()) {
            return config.booleanValue(ENABLED, false);
        }
        return KEYS.keys().stream().anyMatch(k -> !k.equals(ENABLED) && r.raw(k) != null);
    }

    static Reliability read(CourierConfig config) {
        KEYS.check(config, null);
        Reader r = new Reader(config);
        RetryPolicy retry;
        try {
            retry = RetryPolicy.exponential(
                            r.duration(RETRY_INITIAL_BACKOFF, RetryPolicy.DEFAULT_INITIAL_BACKOFF),
                            r.decimal(RETRY_MULTIPLIER, RetryPolicy.DEFAULT_MULTIPLIER),
                            r.duration(RETRY_MAX_BACKOFF, RetryPolicy.DEFAULT_MAX_BACKOFF))
                    .attempts(r.integer(RETRY_ATTEMPTS, RetryPolicy.DEFAULT_ATTEMPTS, 1, 100))
                    .jitter(r.decimal(RETRY_JITTER, RetryPolicy.DEFAULT_JITTER))
                    .thenRedeliverAfter(r.durations(RETRY_REDELIVER_AFTER).toArray(Duration[]::new));
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("invalid retry settings " + r.describe(RETRY_INITIAL_BACKOFF, RETRY_MULTIPLIER,
                    RETRY_MAX_BACKOFF, RETRY_JITTER) + ": " + e.getMessage(), e);
        }
        Reliability.Builder b = Reliability.builder().retry(retry);
        Duration timeout = r.duration(HANDLER_TIMEOUT, Duration.ZERO);
        if (!timeout.isZero()) {
            b.handlerTimeout(timeout);
        }
        if (r.breakerRequested()) {
            try {
                b.circuitBreaker(CircuitBreakerPolicy.of(
                        (float) r.decimal(BREAKER_FAILURE_RATE, CircuitBreakerPolicy.DEFAULT_FAILURE_RATE_THRESHOLD),
                        r.integer(BREAKER_SLIDING_WINDOW, CircuitBreakerPolicy.DEFAULT_SLIDING_WINDOW, 1, 1_000_000),
                        r.integer(BREAKER_MINIMUM_CALLS, CircuitBreakerPolicy.DEFAULT_MINIMUM_CALLS, 1, 1_000_000),
                        r.duration(BREAKER_WAIT_IN_OPEN, CircuitBreakerPolicy.DEFAULT_WAIT_IN_OPEN)));
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException("invalid circuit-breaker settings " + r.describe(BREAKER_FAILURE_RATE,
                        BREAKER_SLIDING_WINDOW, BREAKER_MINIMUM_CALLS, BREAKER_WAIT_IN_OPEN) + ": " + e.getMessage(), e);
            }
        }
        String store = r.raw(IDEMPOTENCY_STORE);
        String kind = store == null || store.isBlank() ? "none" : store.trim().toLowerCase(Locale.ROOT);
        checkStoreKeys(r, kind);
        if (kind.equals("none")) {
            return b.build();
        }
        IdempotencyStore s = openStore(r, kind, store);
        try {
            b.idempotency(Idempotency.with(s)
                    .lease(r.duration(IDEMPOTENCY_LEASE, Idempotency.DEFAULT_LEASE))
                    .retention(r.duration(IDEMPOTENCY_RETENTION, Idempotency.DEFAULT_RETENTION))
                    .inProgressRetryDelay(r.duration(IDEMPOTENCY_IN_PROGRESS_DELAY, Idempotency.DEFAULT_IN_PROGRESS_RETRY_DELAY)));
            return b.ownedStore(s).build();
        } catch (IllegalArgumentException e) {
            s.close();
            throw new ConfigurationException("invalid idempotency settings " + r.describe(IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION,
                    IDEMPOTENCY_IN_PROGRESS_DELAY) + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** The store {@code kind} names, opened (connected) now; the policy owns it and closes it. */
    private static IdempotencyStore openStore(Reader r, String kind, String store) {
        switch (kind) {
            case "memory" -> {
                return new InMemoryIdempotencyStore(r.integer(IDEMPOTENCY_MAX_ENTRIES,
                        InMemoryIdempotencyStore.DEFAULT_MAX_ENTRIES, 1, Integer.MAX_VALUE));
            }
            case "redis" -> {
                String url = r.required(IDEMPOTENCY_REDIS_URL, "redis", "redis://[user:password@]host:6379[/database]");
                RedisIdempotencyStore.Builder rb = RedisIdempotencyStore.builder(url);
                String prefix = r.raw(IDEMPOTENCY_REDIS_KEY_PREFIX);
                if (prefix != null && !prefix.isBlank()) {
                    try {
                        rb.keyPrefix(prefix.trim());
                    } catch (IllegalArgumentException e) {
                        throw new ConfigurationException(IDEMPOTENCY_REDIS_KEY_PREFIX + "=" + prefix + " is invalid: "
                                + e.getMessage(), e);
                    }
                }
                return rb.build();
            }
            case "jdbc" -> {
                String url = r.required(IDEMPOTENCY_JDBC_URL, "jdbc", "jdbc:postgresql://host:5432/database");
                JdbcIdempotencyStore.Builder jb = JdbcIdempotencyStore.builder(url, r.raw(IDEMPOTENCY_JDBC_USER),
                        r.raw(IDEMPOTENCY_JDBC_PASSWORD));
                String table = r.raw(IDEMPOTENCY_JDBC_TABLE);
                if (table != null && !table.isBlank()) {
                    jb.tableName(table.trim());
                }
                return jb.createTableIfMissing(r.bool(IDEMPOTENCY_JDBC_CREATE_TABLE, false))
                        .poolSize(r.integer(IDEMPOTENCY_JDBC_POOL_SIZE, JdbcIdempotencyStore.DEFAULT_POOL_SIZE, 1, 100))
                        .build();
            }
            default -> throw new ConfigurationException(IDEMPOTENCY_STORE + "=" + store + " is invalid; use memory, redis, "
                    + "jdbc or none. For a store on a DataSource or client of your own build the policy in code: "
                    + "Reliability.builder().idempotency(Idempotency.with(store))");
        }
    }

    /** Refuses keys of one store when another (or none) is selected: a typo there would silently go unused. */
    private static void checkStoreKeys(Reader r, String kind) {
        String[][] byKind = {
                {"memory", IDEMPOTENCY_MAX_ENTRIES},
                {"redis", IDEMPOTENCY_REDIS_URL, IDEMPOTENCY_REDIS_KEY_PREFIX},
                {"jdbc", IDEMPOTENCY_JDBC_URL, IDEMPOTENCY_JDBC_USER, IDEMPOTENCY_JDBC_PASSWORD, IDEMPOTENCY_JDBC_TABLE,
                        IDEMPOTENCY_JDBC_CREATE_TABLE, IDEMPOTENCY_JDBC_POOL_SIZE},
        };
        for (String[] keys : byKind) {
            if (keys[0].equals(kind)) {
                continue;
            }
            for (int i = 1; i < keys.length; i++) {
                String v = r.raw(keys[i]);
                if (v != null && !v.isBlank()) {
                    throw new ConfigurationException(keys[i] + " is set but " + IDEMPOTENCY_STORE + " is '" + kind
                            + "'; set " + IDEMPOTENCY_STORE + "=" + keys[0] + " to use it, or remove the key");
                }
            }
        }
    }

    /**
     * Reads the policy's keys; a key is also found as an environment variable turns it
     * ({@code COURIER_RELIABILITY_RETRY_INITIAL_BACKOFF}), see {@link CourierConfig#get(String)}.
     */
    private static final class Reader {
        private final CourierConfig config;

        Reader(CourierConfig config) {
            this.config = config;
        }

        String raw(String key) {
            return config.get(key);
        }

        boolean breakerRequested() {
            String enabled = raw(BREAKER_ENABLED);
            if (enabled != null && !enabled.isBlank()) {
                return config.booleanValue(BREAKER_ENABLED, false);
            }
            // only the breaker's own keys: a misspelled circuit-breaker.enable=false must not turn it on
            return KEYS.keys().stream().anyMatch(k -> k.startsWith(BREAKER_PREFIX) && raw(k) != null);
        }

        Duration duration(String key, Duration dflt) {
            return config.duration(key, dflt);
        }

        int integer(String key, int dflt, int min, int max) {
            return config.intValue(key, dflt, min, max);
        }

        double decimal(String key, double dflt) {
            String v = raw(key);
            if (v == null || v.isBlank()) {
                return dflt;
            }
            try {
                double d = Double.parseDouble(v.trim());
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    throw new NumberFormatException();
                }
                return d;
            } catch (NumberFormatException e) {
                throw new ConfigurationException(key + "=" + v + " is not a number; use e.g. 0.5 or 2.0", e);
            }
        }

        List<Duration> durations(String key) {
            String v = raw(key);
            List<Duration> out = new ArrayList<>();
            if (v == null || v.isBlank()) {
                return out;
            }
            String k = key;
            for (String part : v.split(",")) {
                if (part.isBlank()) {
                    throw new ConfigurationException(k + "=" + v + " has an empty entry; use a comma list of durations such as 1m,10m");
                }
                CourierConfig one = CourierConfig.builder().withoutEnvironment().set(k, part.trim()).build();
                out.add(one.duration(k, Duration.ZERO));
            }
            return out;
        }

        boolean bool(String key, boolean dflt) {
            return config.booleanValue(key, dflt);
        }

        /** The value of a key the chosen store needs, or a ConfigurationException saying so. */
        String required(String key, String kind, String example) {
            String v = raw(key);
            if (v == null || v.isBlank()) {
                throw new ConfigurationException(IDEMPOTENCY_STORE + "=" + kind + " needs " + key + ", e.g. " + example);
            }
            return v.trim();
        }

        String describe(String... keys) {
            StringBuilder sb = new StringBuilder("(");
            for (String k : keys) {
                String v = raw(k);
                if (v != null) {
                    sb.append(sb.length() > 1 ? ", " : "").append(k).append('=').append(v);
                }
            }
            return sb.append(')').toString();
        }
    }
}
