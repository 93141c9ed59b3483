package dev.courier.reliability.idempotency;

import dev.courier.ConfigurationException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An {@link IdempotencyStore} in Redis: one string key per idempotency key, expiring with its
 * lease or retention, so Redis forgets old keys by itself (no purge needed).
 *
 * <pre>{@code
 * try (RedisIdempotencyStore store = RedisIdempotencyStore.connect("redis://:secret@redis:6379/0")) { ... }
 * // or on a client the application owns (close() leaves it open):
 * RedisIdempotencyStore store = RedisIdempotencyStore.builder(redisClient).keyPrefix("orders:idem:").build();
 * }</pre>
 *
 * <p>Needs {@code redis.clients:jedis} (8.x) on the classpath: {@code courier-reliability} declares
 * it optional, so applications that use this store add it themselves.
 *
 * <p>Semantics: {@link #claim}, {@link #complete} and {@link #release} are Lua scripts that read and
 * change the key in one atomic step. A claim stores {@code L:<lease deadline>:<owner>}, the deadline
 * in milliseconds of the Redis server's clock, and lets the key live {@value #KEEP_MILLIS} ms past
 * the deadline: once the deadline passed another owner may claim the key, and until someone does,
 * the owner whose lease ran out can still complete it (as with the other stores). Complete stores
 * {@code D:<owner>} with {@code PX <retention>}; release deletes the owner's claim. A value
 * {@code P:<owner>} (written by earlier versions, expiring with its lease) counts as a live claim.
 * With a Redis replica failover a key written just before the failover may be lost (Redis
 * replicates asynchronously), so a message may then be processed twice; use the JDBC store where
 * that matters.
 *
 * <p>Thread-safe (Jedis' {@code RedisClient} pools its connections). Failures raise
 * {@link IdempotencyStoreException}.
 */
public final class RedisIdempotencyStore implements IdempotencyStore {

    /** The default key prefix. */
    public static final String DEFAULT_KEY_PREFIX = "courier:idem:";
    /** The default connect and socket timeout of a store opened from a URL. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
    /** The longest key accepted (the same limit as the JDBC store, so keys move between stores). */
    public static final int MAX_KEY_LENGTH = 512;
    /** The longest owner token accepted. */
    public static final int MAX_OWNER_LENGTH = 200;

    /** How long a claim's key outlives its lease, so its owner can still complete it while nobody took it over. */
    static final long KEEP_MILLIS = 3_600_000;

    /** Redis server time in ms, and the owner of a claim value (nil unless it is one), as Lua functions. */
    private static final String FUNCTIONS =
            "local function now()\n"
            + "  local t = redis.call('TIME')\n"
            + "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
            + "end\n"
            + "local function claimant(v)\n"
            + "  if string.sub(v, 1, 2) == 'P:' then return string.sub(v, 3) end\n"
            + "  if string.sub(v, 1, 2) == 'L:' then\n"
            + "    local sep = string.find(v, ':', 3, true)\n"
            + "    if sep then return string.sub(v, sep + 1) end\n"
            + "  end\n"
            + "  return nil\n"
            + "end\n";
    /** ARGV: owner, lease millis, keep millis. Returns 0 acquired, 1 in progress, 2 done. */
    private static final RedisCommands.Script CLAIM = RedisCommands.Script.of(FUNCTIONS
            + "local v = redis.call('GET', KEYS[1])\n"
            + "local t = now()\n"
            + "if v then\n"
            + "  if string.sub(v, 1, 2) == 'D:' then return 2 end\n"
            + "  if string.sub(v, 1, 2) ~= 'L:' then return 1 end\n"
            + "  local sep = string.find(v, ':', 3, true)\n"
            + "  local deadline = sep and tonumber(string.sub(v, 3, sep - 1))\n"
            + "  if deadline == nil or deadline > t then return 1 end\n"
            + "end\n"
            + "local lease = tonumber(ARGV[2])\n"
            + "redis.call('SET', KEYS[1], 'L:' .. string.format('%.0f', t + lease) .. ':' .. ARGV[1], 'PX',"
            + " string.format('%.0f', lease + tonumber(ARGV[3])))\n"
            + "return 0\n");
    /** ARGV: owner, retention millis. */
    private static final RedisCommands.Script COMPLETE = RedisCommands.Script.of(FUNCTIONS
            + "local v = redis.call('GET', KEYS[1])\n"
            + "if v and (v == 'D:' .. ARGV[1] or claimant(v) == ARGV[1]) then\n"
            + "  redis.call('SET', KEYS[1], 'D:' .. ARGV[1], 'PX', ARGV[2])\n"
            + "  return 1\n"
            + "end\n"
            + "return 0\n");
    /** ARGV: owner. */
    private static final RedisCommands.Script RELEASE = RedisCommands.Script.of(FUNCTIONS
            + "local v = redis.call('GET', KEYS[1])\n"
            + "if v and claimant(v) == ARGV[1] then\n"
            + "  return redis.call('DEL', KEYS[1])\n"
            + "end\n"
            + "return 0\n");

    private final RedisCommands commands;
    private final String prefix;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RedisIdempotencyStore(RedisCommands commands, String prefix) {
        this.commands = commands;
        this.prefix = prefix;
    }

    /**
     * Opens a store on {@code redis://[user:password@]host[:port][/database]} (or {@code rediss://}
     * for TLS) with the default prefix; {@link #close()} closes its connections.
     *
     * @throws dev.courier.BrokerUnavailableException if Redis does not answer (the message names
     *         the URL with its password masked)
     * @throws ConfigurationException if the URL is malformed or Jedis is not on the classpath
     */
    public static RedisIdempotencyStore connect(String redisUrl) {
        return builder(redisUrl).build();
    }

    /** Starts configuring a store that opens its own client on {@code redisUrl}; see {@link #connect}. */
    public static Builder builder(String redisUrl) {
        if (redisUrl == null || redisUrl.isBlank()) {
            throw new ConfigurationException("the Redis URL of the idempotency store is empty: expected "
                    + "redis://[user:password@]host[:port][/database], e.g. redis://127.0.0.1:6379");
        }
        return new Builder(redisUrl, null);
    }

    /**
     * Starts configuring a store on a Jedis client the application owns, e.g. a
     * {@code redis.clients.jedis.RedisClient}; {@link #close()} leaves it open.
     */
    public static Builder builder(redis.clients.jedis.UnifiedJedis client) {
        return new Builder(null, Objects.requireNonNull(client, "client"));
    }

    @Override
    public Claim claim(String key, String owner, Duration lease) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        long leaseMillis = StoreArguments.millis("lease", lease);
        ensureOpen();
        long result = commands.eval(CLAIM, prefix + key, owner, Long.toString(leaseMillis), Long.toString(KEEP_MILLIS));
        return result == 0 ? Claim.ACQUIRED : result == 2 ? Claim.DONE : Claim.IN_PROGRESS;
    }

    @Override
    public boolean complete(String key, String owner, Duration retention) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        long retentionMillis = StoreArguments.millis("retention", retention);
        ensureOpen();
        return commands.eval(COMPLETE, prefix + key, owner, Long.toString(retentionMillis)) == 1;
    }

    @Override
    public void release(String key, String owner) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        ensureOpen();
        commands.eval(RELEASE, prefix + key, owner);
    }

    /** The prefix put before every key. */
    public String keyPrefix() {
        return prefix;
    }

    /** Closes the client if this store opened it from a URL; a client passed in stays open. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            commands.close();
        }
    }

    /** Names the Redis URL with its password masked, and the prefix. */
    @Override
    public String toString() {
        return "RedisIdempotencyStore[" + commands.target() + ", prefix=" + prefix + "]";
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed; open a new store");
        }
    }

    /** Configures a {@link RedisIdempotencyStore}. Setters validate their argument at once. */
    public static final class Builder {

        private final String url;
        private final Object client;
        private String prefix = DEFAULT_KEY_PREFIX;
        private Duration timeout = DEFAULT_TIMEOUT;

        private Builder(String url, Object client) {
            this.url = url;
            this.client = client;
        }

        /**
         * The prefix before every key (default {@value RedisIdempotencyStore#DEFAULT_KEY_PREFIX});
         * 1 to 200 characters. Give each application or environment sharing a Redis its own.
         */
        public Builder keyPrefix(String keyPrefix) {
            if (keyPrefix == null || keyPrefix.isEmpty() || keyPrefix.length() > 200) {
                throw new IllegalArgumentException("keyPrefix must be 1 to 200 characters, e.g. "
                        + DEFAULT_KEY_PREFIX + ", got " + (keyPrefix == null ? "null" : "'" + keyPrefix + "'"));
            }
            this.prefix = keyPrefix;
            return this;
        }

        /** Connect and socket timeout of a client opened from a URL (default 5s; at least 1ms). */
        public Builder timeout(Duration timeout) {
            StoreArguments.millis("timeout", timeout);
            this.timeout = timeout;
            return this;
        }

        /**
         * Opens (URL) or wraps (client) the connection and checks that Redis answers.
         *
         * @throws dev.courier.BrokerUnavailableException if Redis does not answer
         * @throws ConfigurationException if the URL is malformed or Jedis is missing
         */
        public RedisIdempotencyStore build() {
            requireJedis();
            RedisCommands commands = url != null
                    ? RedisCommands.connect(url, timeout)
                    : RedisCommands.wrap((redis.clients.jedis.UnifiedJedis) client);
            return new RedisIdempotencyStore(commands, prefix);
        }

        private static void requireJedis() {
            try {
                Class.forName("redis.clients.jedis.RedisClient", false, RedisIdempotencyStore.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                throw new ConfigurationException("RedisIdempotencyStore needs the Redis client Jedis on the classpath: "
                        + "add the dependency redis.clients:jedis (8.x; courier-reliability declares it optional)", e);
            }
        }
    }
}
