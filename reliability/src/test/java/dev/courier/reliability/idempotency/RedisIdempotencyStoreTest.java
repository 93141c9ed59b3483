package dev.courier.reliability.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.reliability.idempotency.IdempotencyStore.Claim;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * {@link RedisIdempotencyStore} on the real Redis ({@code COURIER_TEST_REDIS_URL}, default
 * {@code redis://127.0.0.1:6379}), under a key prefix of its own per run.
 */
@DisplayName("RedisIdempotencyStore on Redis")
class RedisIdempotencyStoreTest extends IdempotencyStoreContract {

    static final String URL = System.getenv().getOrDefault("COURIER_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    static final String PREFIX = "courier:test:idem:" + UUID.randomUUID() + ":";

    static RedisClient raw;

    @BeforeAll
    static void connect() {
        try {
            RedisIdempotencyStore.builder(URL).keyPrefix(PREFIX).build().close();
        } catch (BrokerUnavailableException e) {
            fail("Redis is not reachable at " + URL + " (" + e.getMessage() + "). Start it with: "
                    + "bash scripts/brokers.sh start redis, or point COURIER_TEST_REDIS_URL at one", e);
        }
        raw = RedisClient.create(java.net.URI.create(URL));
    }

    @AfterAll
    static void deleteKeys() {
        if (raw == null) {
            return;
        }
        String cursor = ScanParams.SCAN_POINTER_START;
        ScanParams match = new ScanParams().match(PREFIX + "*").count(1000);
        do {
            ScanResult<String> page = raw.scan(cursor, match);
            if (!page.getResult().isEmpty()) {
                raw.del(page.getResult().toArray(String[]::new));
            }
            cursor = page.getCursor();
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        raw.close();
    }

    @Override
    protected IdempotencyStore createStore() {
        return RedisIdempotencyStore.builder(URL).keyPrefix(PREFIX).build();
    }

    /** The Redis server's clock in milliseconds. */
    static long redisMillis() {
        return (Long) raw.eval("local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)");
    }

    @Test
    @DisplayName("a claim written by an earlier version (P:<owner>, expiring with its lease) stays in progress, and its owner completes or releases it")
    void earlierClaimFormat() {
        String key = newKey();
        String owner = newOwner();
        raw.psetex(PREFIX + key, Duration.ofMinutes(10).toMillis(), "P:" + owner);
        assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
        assertThat(store.complete(key, newOwner(), LONG)).as("complete by someone else").isFalse();
        assertThat(store.complete(key, owner, LONG)).isTrue();
        assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);

        String released = newKey();
        raw.psetex(PREFIX + released, Duration.ofMinutes(10).toMillis(), "P:" + owner);
        store.release(released, owner);
        assertThat(store.claim(released, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
    }

    @Test
    @DisplayName("stores L:<lease deadline>:<owner> under the prefix, kept an hour past the lease, then D:<owner> with the retention")
    void keyLayout() {
        String key = newKey();
        String owner = newOwner();
        long before = redisMillis();
        assertThat(store.claim(key, owner, Duration.ofMinutes(10))).isEqualTo(Claim.ACQUIRED);
        long after = redisMillis();
        String value = raw.get(PREFIX + key);
        assertThat(value).startsWith("L:").endsWith(":" + owner);
        long deadline = Long.parseLong(value.substring(2, value.indexOf(':', 2)));
        assertThat(deadline).as("lease deadline on the Redis clock")
                .isBetween(before + Duration.ofMinutes(10).toMillis(), after + Duration.ofMinutes(10).toMillis());
        assertThat(raw.pttl(PREFIX + key)).isGreaterThan(Duration.ofMinutes(10).toMillis())
                .isLessThanOrEqualTo(Duration.ofMinutes(10).toMillis() + RedisIdempotencyStore.KEEP_MILLIS);

        assertThat(store.complete(key, owner, Duration.ofHours(5))).isTrue();
        assertThat(raw.get(PREFIX + key)).isEqualTo("D:" + owner);
        assertThat(raw.pttl(PREFIX + key)).isGreaterThan(Duration.ofMinutes(10).toMillis())
                .isLessThanOrEqualTo(Duration.ofHours(5).toMillis());
        assertThat(raw.exists(key)).as("nothing outside the prefix").isFalse();
    }

    @Test
    @DisplayName("stores with different prefixes do not see each other's keys")
    void prefixesIsolate() {
        String key = newKey();
        try (RedisIdempotencyStore other = RedisIdempotencyStore.builder(URL).keyPrefix(PREFIX + "other:").build()) {
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(other.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(other.keyPrefix()).isEqualTo(PREFIX + "other:");
        }
    }

    @Test
    @DisplayName("a client the application owns stays open after close()")
    void ownedClientStaysOpen() {
        String key = newKey();
        RedisIdempotencyStore onClient = RedisIdempotencyStore.builder(raw).keyPrefix(PREFIX).build();
        assertThat(onClient.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        onClient.close();
        assertThat(raw.ping()).isEqualTo("PONG");
        assertThatThrownBy(() -> onClient.claim(newKey(), newOwner(), LONG))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(onClient.toString()).contains("RedisClient").contains(PREFIX);
    }

    @Test
    @DisplayName("a Redis that does not answer fails with BrokerUnavailableException naming the masked URL")
    void unreachable() {
        assertThatThrownBy(() -> RedisIdempotencyStore.builder("redis://app:s3cret@127.0.0.1:1/0")
                .timeout(Duration.ofSeconds(2)).build())
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("redis://app:****@127.0.0.1:1/0")
                .hasMessageNotContaining("s3cret");
    }

    @Test
    @DisplayName("credentials Redis rejects fail with BrokerUnavailableException, password masked")
    void rejectedCredentials() {
        String url = URL.replace("redis://", "redis://courier-no-such-user:s3cret@");
        assertThatThrownBy(() -> RedisIdempotencyStore.connect(url))
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("courier-no-such-user:****@")
                .hasMessageNotContaining("s3cret");
    }

    @Test
    @DisplayName("malformed URLs and prefixes are refused with a clear error")
    void badConfiguration() {
        assertThatThrownBy(() -> RedisIdempotencyStore.connect("http://127.0.0.1:6379"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("redis://");
        assertThatThrownBy(() -> RedisIdempotencyStore.connect("redis:///0"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("no host");
        assertThatThrownBy(() -> RedisIdempotencyStore.connect("redis://:pw@host with space"))
                .isInstanceOf(ConfigurationException.class).hasMessageNotContaining("pw@");
        assertThatThrownBy(() -> RedisIdempotencyStore.connect(" "))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> RedisIdempotencyStore.builder(URL).keyPrefix(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keyPrefix");
    }

    @Test
    @DisplayName("toString masks the password")
    void toStringMasks() {
        assertThat(store.toString()).contains(URL.replaceAll("//[^@/]*:[^@/]*@", "//****@")).contains(PREFIX);
    }
}
