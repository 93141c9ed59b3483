package dev.courier.reliability;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Interceptor;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.reliability.idempotency.IdempotencyStore;
import dev.courier.reliability.idempotency.JdbcIdempotencyStore;
import dev.courier.reliability.idempotency.RedisIdempotencyStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Redis and JDBC idempotency stores configured through {@code courier.reliability.idempotency.*}
 * keys, on the real Redis ({@code COURIER_TEST_REDIS_URL}, default {@code redis://127.0.0.1:6379})
 * and PostgreSQL ({@code jdbc:postgresql://127.0.0.1:5432/test}, user postgres): two Couriers on one
 * {@code mem://} broker, each with its own store object on the same database, go through a consumer
 * crash mid-handler and process the message once; the Courier closes the store it opened.
 */
class ConfiguredStoresTest {

    static final String REDIS_URL = System.getenv().getOrDefault("COURIER_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    static final String PG_URL = System.getenv().getOrDefault("COURIER_TEST_POSTGRES_JDBC_URL", "jdbc:postgresql://127.0.0.1:5432/test");
    static final String RUN = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    static final String TABLE = "courier_idem_cfg_" + RUN;
    static final String PREFIX = "courier-test:cfg:" + RUN + ":";

    private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();
    private final String broker = "mem://rel-cfg-" + UUID.randomUUID();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @AfterAll
    static void dropTable() throws SQLException {
        try (Connection c = DriverManager.getConnection(PG_URL, "postgres", null); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + TABLE);
        }
        // the Redis keys of the run expire by themselves (lease and retention TTLs)
    }

    private static Map<String, String> jdbcKeys(String app) {
        return Map.of(
                Reliability.IDEMPOTENCY_STORE, "jdbc",
                Reliability.IDEMPOTENCY_JDBC_URL, PG_URL + "?ApplicationName=" + app,
                Reliability.IDEMPOTENCY_JDBC_USER, "postgres",
                Reliability.IDEMPOTENCY_JDBC_TABLE, TABLE,
                Reliability.IDEMPOTENCY_JDBC_CREATE_TABLE, "true",
                Reliability.IDEMPOTENCY_JDBC_POOL_SIZE, "2");
    }

    private static Map<String, String> redisKeys() {
        return Map.of(
                Reliability.IDEMPOTENCY_STORE, "redis",
                Reliability.IDEMPOTENCY_REDIS_URL, REDIS_URL,
                Reliability.IDEMPOTENCY_REDIS_KEY_PREFIX, PREFIX);
    }

    /** A Courier on the case's mem:// broker whose policy comes from {@code keys} alone; it closes at once even with a stuck handler. */
    private Courier fromConfig(Events events, Map<String, String> keys, Interceptor... outer) {
        Courier.Builder builder = Courier.builder();
        for (Interceptor i : outer) {
            builder.interceptor(i); // explicit interceptors run outside the configured policy
        }
        Courier c = builder.listener(events).config(CourierConfig.builder().withoutEnvironment().url(broker)
                .setAll(keys)
                .set(Reliability.IDEMPOTENCY_LEASE, "2s")
                .set(Reliability.IDEMPOTENCY_RETENTION, "5m")
                .set(Reliability.IDEMPOTENCY_IN_PROGRESS_DELAY, "300ms")
                .set(CourierConfig.CLOSE_TIMEOUT, "200ms")
                .build()).connect();
        open.add(c);
        return c;
    }

    /**
     * Consumer A starts the message and dies mid-handler (its Courier closes without draining, its
     * claim is neither completed nor released); consumer B, another Courier with its own store
     * object on the same database, gets the redelivery once A's lease ran out and does the work.
     * Then a second message is completed on a consumer whose ack never reaches the broker before its
     * Courier closes: the redelivery is skipped elsewhere.
     */
    private void crashScenario(Map<String, String> keysA, Map<String, String> keysB) {
        String topic = "rel.crash." + UUID.randomUUID().toString().substring(0, 8);
        Subscribe spec = Subscribe.to(topic).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ZERO);
        Events eventsA = new Events();
        Events eventsB = new Events();
        Courier a = fromConfig(eventsA, keysA);
        Courier b = fromConfig(eventsB, keysB);
        AtomicInteger completed = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        open.add(stuck::countDown); // frees A's thread after the case, before the Couriers close
        a.subscribe(spec, d -> {
            started.countDown();
            awaitIgnoringInterrupts(stuck);
            throw new IllegalStateException("consumer A died mid-handler");
        });
        Message m = b.publisher().message(topic, "ship o-7").build();
        b.publisher().publish(m).toCompletableFuture().join();
        Poll.until("A starts the message", () -> started.getCount() == 0, () -> eventsA);

        a.close();
        b.subscribe(spec, d -> completed.incrementAndGet());

        Poll.until("B completes the redelivered message", () -> eventsB.acked.contains(m.id()), () -> eventsB);
        assertThat(completed.get()).as("work completed").isEqualTo(1);
        assertThat(eventsA.acked).isEmpty();
        assertThat(eventsB.duplicates).as("B waited for A's lease").allMatch(Events.Duplicate::inProgress);

        // the second half: the work is completed on A2, but its ack never reaches the broker before A2 is gone
        CountDownLatch ackHeld = new CountDownLatch(1);
        Interceptor ackNeverSent = chain -> chain.proceed(chain.delivery()).thenCompose(o -> {
            ackHeld.countDown();
            return new CompletableFuture<>();
        });
        Courier a2 = fromConfig(new Events(), keysA, ackNeverSent);
        Events eventsB2 = new Events();
        Courier b2 = fromConfig(eventsB2, keysB);
        String topic2 = topic + ".2";
        Subscribe spec2 = Subscribe.to(topic2).group("g").redeliveryDelay(Duration.ofMillis(20)).drainTimeout(Duration.ZERO);
        AtomicInteger completed2 = new AtomicInteger();
        a2.subscribe(spec2, d -> completed2.incrementAndGet());
        Message m2 = b2.publisher().message(topic2, "refund o-8").build();
        b2.publisher().publish(m2).toCompletableFuture().join();
        Poll.until("A2 completed the work", () -> ackHeld.getCount() == 0, () -> completed2);

        a2.close();
        b2.subscribe(spec2, d -> completed2.incrementAndGet());
        Poll.until("B2 acks the redelivery", () -> eventsB2.acked.contains(m2.id()), () -> eventsB2);
        assertThat(completed2.get()).as("work completed").isEqualTo(1);
        assertThat(eventsB2.duplicates).extracting(Events.Duplicate::inProgress).containsOnly(false).isNotEmpty();
    }

    static void awaitIgnoringInterrupts(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // a dead consumer's thread does not react to anything
            }
        }
    }

    /** Open connections of {@code app}, as PostgreSQL sees them. */
    static int connectionsOf(String app) {
        try (Connection c = DriverManager.getConnection(PG_URL, "postgres", null);
                PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?")) {
            ps.setString(1, app);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    @DisplayName("store=jdbc: a crash mid-handler and a lost ack across two Couriers, each message processed once; the Courier closes the pool")
    void jdbcAcrossTwoCouriers() throws Exception {
        String app = "courier-cfg-" + RUN + "-j";
        crashScenario(jdbcKeys(app), jdbcKeys(app));
        assertThat(connectionsOf(app)).as("connections of the open Couriers' stores").isPositive();
        closeAll();
        open.clear();
        Poll.until("closing the Couriers closed their stores' connections", () -> connectionsOf(app) == 0, () -> connectionsOf(app));
    }

    @Test
    @DisplayName("store=redis: a crash mid-handler and a lost ack across two Couriers, each message processed once")
    void redisAcrossTwoCouriers() {
        crashScenario(redisKeys(), redisKeys());
    }

    @Test
    @DisplayName("fromConfig opens the store and close() closes it; a store given in code stays open")
    void policyClosesOnlyTheStoreItOpened() {
        Reliability configured = Reliability.fromConfig(CourierConfig.builder().withoutEnvironment().setAll(redisKeys()).build());
        IdempotencyStore store = configured.idempotency().store();
        assertThat(store).isInstanceOf(RedisIdempotencyStore.class);
        assertThat(((RedisIdempotencyStore) store).keyPrefix()).isEqualTo(PREFIX);
        assertThat(store.claim("k-" + UUID.randomUUID(), "o", Duration.ofSeconds(5))).isEqualTo(IdempotencyStore.Claim.ACQUIRED);
        configured.close();
        assertThatThrownBy(() -> store.claim("k-" + UUID.randomUUID(), "o", Duration.ofSeconds(5)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");

        try (RedisIdempotencyStore mine = RedisIdempotencyStore.builder(REDIS_URL).keyPrefix(PREFIX).build()) {
            Reliability.builder().idempotency(Idempotency.with(mine)).build().close();
            assertThat(mine.claim("k-" + UUID.randomUUID(), "o", Duration.ofSeconds(5))).isEqualTo(IdempotencyStore.Claim.ACQUIRED);
        }
    }

    @Test
    @DisplayName("a Courier that fails to open closes the store its configuration opened")
    void failedCourierClosesTheStore() {
        String app = "courier-cfg-" + RUN + "-f";
        CourierConfig config = CourierConfig.builder().withoutEnvironment().url("nosuchscheme://nowhere").setAll(jdbcKeys(app)).build();
        assertThatThrownBy(() -> Courier.builder().config(config).connect()).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("nosuchscheme");
        Poll.until("the store's connections are closed", () -> connectionsOf(app) == 0, () -> connectionsOf(app));
    }

    @Test
    @DisplayName("store keys that are missing, misplaced or wrong fail with errors naming the key, passwords masked")
    void badStoreKeys() {
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "redis"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.IDEMPOTENCY_REDIS_URL);
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "jdbc"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.IDEMPOTENCY_JDBC_URL);
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "memory",
                Reliability.IDEMPOTENCY_JDBC_URL, PG_URL))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.IDEMPOTENCY_JDBC_URL)
                .hasMessageContaining("store=jdbc");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_REDIS_URL, REDIS_URL))))
                .as("a store key without store=").isInstanceOf(ConfigurationException.class).hasMessageContaining("store=redis");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "cassandra"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("memory, redis, jdbc or none");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "jdbc",
                Reliability.IDEMPOTENCY_JDBC_URL, PG_URL, Reliability.IDEMPOTENCY_JDBC_TABLE, "t; drop table x"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("not allowed");
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "jdbc",
                Reliability.IDEMPOTENCY_JDBC_URL, PG_URL, Reliability.IDEMPOTENCY_JDBC_POOL_SIZE, "0"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining(Reliability.IDEMPOTENCY_JDBC_POOL_SIZE);
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "jdbc",
                Reliability.IDEMPOTENCY_JDBC_URL, "jdbc:postgresql://127.0.0.1:1/test?connectTimeout=5",
                Reliability.IDEMPOTENCY_JDBC_USER, "app", Reliability.IDEMPOTENCY_JDBC_PASSWORD, "s3cret-pw"))))
                .isInstanceOf(BrokerUnavailableException.class).hasMessageContaining("127.0.0.1:1")
                .satisfies(e -> assertThat(chainText(e)).doesNotContain("s3cret-pw"));
        assertThatThrownBy(() -> Reliability.fromConfig(config(Map.of(Reliability.IDEMPOTENCY_STORE, "redis",
                Reliability.IDEMPOTENCY_REDIS_URL, "redis://app:s3cret-pw@127.0.0.1:1"))))
                .isInstanceOf(BrokerUnavailableException.class).hasMessageContaining("127.0.0.1:1")
                .satisfies(e -> assertThat(chainText(e)).doesNotContain("s3cret-pw"));
        assertThat(JdbcIdempotencyStore.DEFAULT_POOL_SIZE).isEqualTo(4);
    }

    private static CourierConfig config(Map<String, String> keys) {
        return CourierConfig.builder().withoutEnvironment().setAll(keys).build();
    }

    static String chainText(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            sb.append(t).append('\n');
        }
        return sb.toString();
    }
}
