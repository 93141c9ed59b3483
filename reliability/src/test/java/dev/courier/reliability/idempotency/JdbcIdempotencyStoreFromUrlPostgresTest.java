package dev.courier.reliability.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.reliability.idempotency.IdempotencyStore.Claim;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@link JdbcIdempotencyStore} built from a JDBC URL (its own small connection pool) on the real
 * PostgreSQL: the shared store contract, and that the pool is bounded, reuses and checks its
 * connections, closes them with the store, and never shows the password. Connections are told
 * apart by the {@code ApplicationName} of this run.
 */
@DisplayName("JdbcIdempotencyStore from a JDBC URL on PostgreSQL")
class JdbcIdempotencyStoreFromUrlPostgresTest extends IdempotencyStoreContract {

    static final String BASE_URL = System.getenv().getOrDefault("COURIER_TEST_POSTGRES_JDBC_URL",
            "jdbc:postgresql://127.0.0.1:5432/test");
    static final String APP = "courier-idem-pool-" + UUID.randomUUID().toString().substring(0, 8);
    static final String TABLE = "courier_idem_url_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    static final int POOL_SIZE = 3;

    static PGSimpleDataSource admin;

    @BeforeAll
    static void createTable() {
        admin = new PGSimpleDataSource();
        admin.setUrl(BASE_URL + "?user=postgres");
        JdbcIdempotencyStore.builder(admin).tableName(TABLE).createTableIfMissing(true).build();
    }

    @AfterAll
    static void dropTable() throws SQLException {
        try (Connection c = admin.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + TABLE);
        }
    }

    static String url(String app) {
        return BASE_URL + "?ApplicationName=" + app;
    }

    @Override
    protected IdempotencyStore createStore() {
        return JdbcIdempotencyStore.builder(url(APP), "postgres", null).tableName(TABLE).poolSize(POOL_SIZE).build();
    }

    /** Open connections of {@code app}, as the server sees them. */
    static int connectionsOf(String app) {
        try (Connection c = admin.getConnection();
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

    static void terminate(String app) throws SQLException {
        try (Connection c = admin.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?")) {
            ps.setString(1, app);
            ps.executeQuery().close();
        }
    }

    @Test
    @DisplayName("many concurrent calls share at most poolSize connections, which close() closes")
    void boundedReusedAndClosed() throws Exception {
        String app = APP + "-b";
        JdbcIdempotencyStore pooled = JdbcIdempotencyStore.builder(url(app), "postgres", null).tableName(TABLE).poolSize(2).build();
        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            List<Future<Claim>> claims = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                claims.add(threads.submit(() -> pooled.claim(newKey(), newOwner(), LONG)));
            }
            for (Future<Claim> f : claims) {
                assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(Claim.ACQUIRED);
            }
            assertThat(connectionsOf(app)).as("connections kept open").isBetween(1, 2);
        } finally {
            threads.shutdownNow();
            pooled.close();
        }
        await("the store's connections are closed", () -> connectionsOf(app) == 0);
        assertThatThrownBy(() -> pooled.claim(newKey(), newOwner(), LONG)).isInstanceOf(IdempotencyStoreException.class)
                .hasMessageContaining("closed");
    }

    @Test
    @DisplayName("a connection the server dropped while idle is replaced, not handed to a call")
    void droppedConnectionIsReplaced() throws Exception {
        String app = APP + "-d";
        try (JdbcIdempotencyStore pooled = JdbcIdempotencyStore.builder(url(app), "postgres", null).tableName(TABLE).build()) {
            assertThat(pooled.claim(newKey(), newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            terminate(app);
            await("the server dropped the idle connection", () -> connectionsOf(app) == 0);
            // idle longer than the pool's check threshold, so the next borrow validates it
            Thread.sleep(TimeUnit.NANOSECONDS.toMillis(DriverManagerPool.VALIDATE_AFTER_IDLE_NANOS) + 200);
            assertThat(pooled.claim(newKey(), newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }
    }

    @Test
    @DisplayName("the password never shows: not in toString, not in connection failures")
    void passwordMasked() {
        try (JdbcIdempotencyStore pooled = JdbcIdempotencyStore.builder(url(APP), "postgres", "s3cret-pw").tableName(TABLE).build()) {
            assertThat(pooled.toString()).contains("127.0.0.1").doesNotContain("s3cret-pw");
        }
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder("jdbc:postgresql://127.0.0.1:1/test?password=s3cret-pw&connectTimeout=5",
                "postgres", "other-s3cret").build())
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("127.0.0.1:1")
                .satisfies(e -> assertThat(chainText(e)).doesNotContain("s3cret-pw").doesNotContain("other-s3cret"));
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder("jdbc:nosuchdb://h/db?password=s3cret-pw", null, null).build())
                .isInstanceOf(BrokerUnavailableException.class)
                .satisfies(e -> assertThat(chainText(e)).doesNotContain("s3cret-pw"));
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder("postgres://u:s3cret-pw@h/db", null, null))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("jdbc:")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-pw"));
    }

    @Test
    @DisplayName("pool sizes out of range, or for a DataSource of the caller's, are refused")
    void poolSizeValidation() {
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder(url(APP), "postgres", null).poolSize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("between 1 and 100");
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder(admin).poolSize(2))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("DataSource");
    }

    static String chainText(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            sb.append(t).append('\n');
            for (Throwable s : t.getSuppressed()) {
                sb.append(s).append('\n');
            }
        }
        return sb.toString();
    }
}
