package dev.courier.reliability.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.reliability.idempotency.IdempotencyStore.Claim;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@link JdbcIdempotencyStore} on the real PostgreSQL ({@code COURIER_TEST_POSTGRES_URL}, default
 * {@code jdbc:postgresql://127.0.0.1:5432/test?user=postgres}), in a table of its own per run.
 */
@DisplayName("JdbcIdempotencyStore on PostgreSQL")
class JdbcIdempotencyStorePostgresTest extends IdempotencyStoreContract {

    static final String URL = System.getenv().getOrDefault("COURIER_TEST_POSTGRES_URL",
            "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");
    static final String TABLE = "courier_idem_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);

    static PGSimpleDataSource dataSource;

    @BeforeAll
    static void createTable() {
        dataSource = new PGSimpleDataSource();
        dataSource.setUrl(URL);
        dataSource.setConnectTimeout(10);
        try (Connection c = dataSource.getConnection()) {
            c.isValid(5);
        } catch (SQLException e) {
            fail("PostgreSQL is not reachable at " + URL + " (" + e.getMessage() + "). Start it with: "
                    + "bash scripts/brokers.sh start postgres (it needs trust auth for user postgres and a "
                    + "database 'test'), or point COURIER_TEST_POSTGRES_URL at one", e);
        }
        JdbcIdempotencyStore.builder(dataSource).tableName(TABLE).createTableIfMissing(true).build();
    }

    @AfterAll
    static void dropTable() throws SQLException {
        if (dataSource != null) {
            execute("DROP TABLE IF EXISTS " + TABLE);
        }
    }

    @Override
    protected IdempotencyStore createStore() {
        return JdbcIdempotencyStore.builder(dataSource).tableName(TABLE).build();
    }

    static void execute(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    static int rowsOf(String table, List<String> keys) throws SQLException {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table + " WHERE idem_key = ANY (?)")) {
            ps.setArray(1, c.createArrayOf("varchar", keys.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    @Test
    @DisplayName("purgeExpired deletes expired leases and expired DONE keys, in batches, and keeps live ones")
    void purgeExpired() throws Exception {
        JdbcIdempotencyStore jdbc = JdbcIdempotencyStore.builder(dataSource).tableName(TABLE).purgeBatchSize(2).build();
        List<String> expired = List.of(newKey(), newKey(), newKey(), newKey(), newKey());
        for (String key : expired.subList(0, 3)) {
            assertThat(jdbc.claim(key, newOwner(), Duration.ofMillis(1))).isEqualTo(Claim.ACQUIRED);
        }
        for (String key : expired.subList(3, 5)) {
            String owner = newOwner();
            assertThat(jdbc.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(jdbc.complete(key, owner, Duration.ofMillis(1))).isTrue();
        }
        String liveClaim = newKey();
        String liveDone = newKey();
        String owner = newOwner();
        assertThat(jdbc.claim(liveClaim, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        assertThat(jdbc.claim(liveDone, owner, LONG)).isEqualTo(Claim.ACQUIRED);
        assertThat(jdbc.complete(liveDone, owner, LONG)).isTrue();
        assertThat(rowsOf(TABLE, expired)).isEqualTo(5);
        Thread.sleep(50); // a 1ms lease or retention on the database clock has run out by then

        assertThat(jdbc.purgeExpired()).isGreaterThanOrEqualTo(5);

        assertThat(rowsOf(TABLE, expired)).isZero();
        assertThat(rowsOf(TABLE, List.of(liveClaim, liveDone))).isEqualTo(2);
        assertThat(jdbc.claim(liveClaim, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
        assertThat(jdbc.claim(liveDone, newOwner(), LONG)).isEqualTo(Claim.DONE);
        assertThat(jdbc.claim(expired.get(0), newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
    }

    @Test
    @DisplayName("table names that could carry SQL are refused")
    void tableNameValidation() {
        for (String bad : List.of("", "1table", "t; DROP TABLE users", "t--", "a.b.c", "t\"x", "t x", "t'",
                "x".repeat(64))) {
            assertThatThrownBy(() -> JdbcIdempotencyStore.builder(dataSource).tableName(bad))
                    .as("table name '%s'", bad)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("not allowed");
        }
        assertThatThrownBy(() -> JdbcIdempotencyStore.builder(dataSource).tableName(null))
                .isInstanceOf(ConfigurationException.class);
        assertThatCode(() -> JdbcIdempotencyStore.builder(dataSource).tableName("public.Courier_Idem_2"))
                .doesNotThrowAnyException();
    }

    @Test
    @DisplayName("createTableIfMissing is idempotent and works with a schema-qualified name")
    void createTableInSchema() throws SQLException {
        String table = "public." + TABLE + "_s";
        try {
            JdbcIdempotencyStore jdbc = JdbcIdempotencyStore.builder(dataSource).tableName(table)
                    .createTableIfMissing(true).build();
            jdbc.createTableIfMissing();
            assertThat(jdbc.tableName()).isEqualTo(table);
            String key = newKey();
            String owner = newOwner();
            assertThat(jdbc.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(jdbc.complete(key, owner, LONG)).isTrue();
            assertThat(jdbc.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
            assertThat(rowsOf(table, List.of(key))).isEqualTo(1);
        } finally {
            execute("DROP TABLE IF EXISTS " + table);
        }
    }

    @Test
    @DisplayName("the shipped migration script creates a table the store works with")
    void migrationScript() throws Exception {
        String table = TABLE + "_m";
        String script;
        try (InputStream in = JdbcIdempotencyStore.class.getResourceAsStream("postgresql.sql")) {
            assertThat(in).as("postgresql.sql on the classpath").isNotNull();
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            // as a user would apply it with psql: the whole file, with the table name replaced
            execute(script.replace("courier_idempotency", table));
            JdbcIdempotencyStore jdbc = JdbcIdempotencyStore.builder(dataSource).tableName(table).build();
            String key = newKey();
            assertThat(jdbc.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(jdbc.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
        } finally {
            execute("DROP TABLE IF EXISTS " + table);
        }
    }

    @Test
    @DisplayName("a missing table fails with a non-retriable error that says how to create it")
    void missingTable() {
        JdbcIdempotencyStore jdbc = JdbcIdempotencyStore.builder(dataSource).tableName(TABLE + "_missing").build();
        assertThatThrownBy(() -> jdbc.claim(newKey(), newOwner(), LONG))
                .isInstanceOfSatisfying(IdempotencyStoreException.class, e -> assertThat(e.isRetriable()).isFalse())
                .hasMessageContaining(TABLE + "_missing")
                .hasMessageContaining("createTableIfMissing()");
    }

    @Test
    @DisplayName("a database that does not answer fails the build with BrokerUnavailableException")
    void unreachableDatabase() {
        PGSimpleDataSource nowhere = new PGSimpleDataSource();
        nowhere.setUrl("jdbc:postgresql://127.0.0.1:1/test?user=postgres");
        nowhere.setConnectTimeout(5);
        assertThatThrownBy(() -> JdbcIdempotencyStore.create(nowhere))
                .isInstanceOf(BrokerUnavailableException.class)
                .hasMessageContaining("cannot connect to the idempotency store database");
    }

    @Test
    @DisplayName("an unsupported database product fails the build with ConfigurationException")
    void unsupportedDatabase() {
        JdbcDataSource h2 = new JdbcDataSource();
        h2.setURL("jdbc:h2:mem:courier_idem_" + UUID.randomUUID());
        assertThatThrownBy(() -> JdbcIdempotencyStore.create(h2))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("does not support the database 'H2'")
                .hasMessageContaining("PostgreSQL");
    }
}
