package dev.courier.reliability.idempotency;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * The few Redis commands {@link RedisIdempotencyStore} sends, over Jedis. Every Jedis type is
 * confined to this class, so {@code RedisIdempotencyStore} itself loads without Jedis on the
 * classpath and can say which dependency to add.
 */
final class RedisCommands implements AutoCloseable {

    /** A Lua script, sent by its SHA-1 and loaded on the first NOSCRIPT. */
    record Script(String source, String sha1) {
        static Script of(String source) {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
                return new Script(source, HexFormat.of().formatHex(digest));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-1 is missing from this JVM", e);
            }
        }
    }

    private final UnifiedJedis jedis;
    private final boolean owned;
    /** Where the commands go, for messages: the masked URL, or the client's class. */
    private final String target;

    private RedisCommands(UnifiedJedis jedis, boolean owned, String target) {
        this.jedis = jedis;
        this.owned = owned;
        this.target = target;
    }

    /** Opens a client for {@code url} ({@code redis://} or {@code rediss://}) and checks that Redis answers. */
    static RedisCommands connect(String url, Duration timeout) {
        String masked = CourierConfig.maskUrl(url);
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new ConfigurationException("'" + masked + "' is not a Redis URL: expected "
                    + "redis://[user:password@]host[:port][/database] or rediss://...", e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("redis") && !scheme.equals("rediss")) {
            throw new ConfigurationException("'" + masked + "' is not a Redis URL: the scheme must be redis:// or "
                    + "rediss:// (TLS), e.g. redis://127.0.0.1:6379");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new ConfigurationException("'" + masked + "' has no host: expected redis://host[:port][/database]");
        }
        int port = uri.getPort() == -1 ? 6379 : uri.getPort();
        DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .socketTimeoutMillis((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .ssl(scheme.equals("rediss"))
                .clientName("courier-idempotency");
        try {
            String user = JedisURIHelper.getUser(uri);
            String password = JedisURIHelper.getPassword(uri);
            if (user != null && !user.isEmpty()) {
                config.user(user);
            }
            if (password != null && !password.isEmpty()) {
                config.password(password);
            }
            if (JedisURIHelper.hasDbIndex(uri)) {
                config.database(JedisURIHelper.getDBIndex(uri));
            }
        } catch (RuntimeException e) {
            throw new ConfigurationException("'" + masked + "' is not a valid Redis URL (" + e.getMessage()
                    + "): expected redis://[user:password@]host[:port][/database]", e);
        }
        UnifiedJedis client = RedisClient.builder()
                .hostAndPort(new HostAndPort(uri.getHost(), port))
                .clientConfig(config.build())
                .build();
        RedisCommands commands = new RedisCommands(client, true, masked);
        try {
            commands.ping();
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
        return commands;
    }

    /** Uses a client the caller owns (and closes); checks that Redis answers. */
    static RedisCommands wrap(UnifiedJedis client) {
        RedisCommands commands = new RedisCommands(client, false, "the given " + client.getClass().getSimpleName());
        commands.ping();
        return commands;
    }

    String target() {
        return target;
    }

    private void ping() {
        try {
            jedis.ping();
        } catch (JedisException e) {
            throw new BrokerUnavailableException("cannot reach Redis at " + target + " for the idempotency store: "
                    + e.getMessage() + "; check the URL and credentials and that Redis is up", e);
        }
    }

    /** Runs {@code script} on one key by EVALSHA, falling back to EVAL when Redis does not have it cached. */
    long eval(Script script, String key, String... args) {
        List<String> keys = List.of(key);
        List<String> argv = List.of(args);
        try {
            Object result;
            try {
                result = jedis.evalsha(script.sha1(), keys, argv);
            } catch (JedisDataException e) {
                if (e.getMessage() == null || !e.getMessage().startsWith("NOSCRIPT")) {
                    throw e;
                }
                result = jedis.eval(script.source(), keys, argv);
            }
            return ((Number) result).longValue();
        } catch (JedisException e) {
            throw failure("EVALSHA", key, e);
        }
    }

    private IdempotencyStoreException failure(String command, String key, JedisException e) {
        // a connection fault may heal; a command Redis refused (wrong type, no permission) will not
        boolean retriable = !(e instanceof JedisDataException);
        return new IdempotencyStoreException(command + " of key '" + key + "' failed on Redis at " + target + ": "
                + e.getMessage(), e, retriable);
    }

    /** Closes the client if this store opened it. */
    @Override
    public void close() {
        if (owned) {
            jedis.close();
        }
    }
}
