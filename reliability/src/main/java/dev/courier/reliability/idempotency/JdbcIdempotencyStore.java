package dev.courier.reliability.idempotency;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * An {@link IdempotencyStore} in one SQL table, reached through a {@link DataSource} the
 * application owns (give it a connection pool in production; this store opens and closes one
 * connection per call and holds none in between).
 *
 * <pre>{@code
 * JdbcIdempotencyStore store = JdbcIdempotencyStore.builder(dataSource)
 *         .tableName("courier_idempotency")      // the default
 *         .createTableIfMissing(true)            // or run postgresql.sql with your migrations
 *         .build();
 * }</pre>
 *
 * <p>Supported database: PostgreSQL 9.5 or newer; another product fails {@link Builder#build()}
 * with a {@link ConfigurationException}. The table is described by the migration script {@code
 * dev/courier/reliability/idempotency/postgresql.sql} in this jar.
 *
 * <p>Semantics: a claim is one atomic {@code INSERT .. ON CONFLICT DO UPDATE .. WHERE expired}
 * statement, so of any number of concurrent claimers of a key exactly one acquires it. Leases and
 * retention are measured by the database clock ({@code now()}), so the clocks of the consumers do
 * not matter. {@link #complete} and {@link #release} act only if the caller's owner token still
 * holds the key. Expired rows stay in the table (they are claimable again) until
 * {@link #purgeExpired()} deletes them: run it periodically, e.g. every few minutes from a
 * scheduler in one instance.
 *
 * <p>Thread-safe. Failures of the database raise {@link IdempotencyStoreException}.
 * {@link #close()} leaves a {@link DataSource} passed in alone (it belongs to the caller) and closes
 * the connections of a store built from a JDBC URL ({@link #builder(String, String, String)}).
 */
public final class JdbcIdempotencyStore implements IdempotencyStore {

    /** The default table name. */
    public static final String DEFAULT_TABLE = "courier_idempotency";
    /** The default query timeout of each statement. */
    public static final Duration DEFAULT_QUERY_TIMEOUT = Duration.ofSeconds(30);
    /** The default number of connections a store built from a JDBC URL keeps open. */
    public static final int DEFAULT_POOL_SIZE = 4;
    /** The default number of rows one {@link #purgeExpired()} statement deletes. */
    public static final int DEFAULT_PURGE_BATCH_SIZE = 10_000;
    /** The longest key the table holds ({@code VARCHAR(512)}). */
    public static final int MAX_KEY_LENGTH = 512;
    /** The longest owner token the table holds ({@code VARCHAR(200)}). */
    public static final int MAX_OWNER_LENGTH = 200;

    /** An unquoted identifier, optionally schema-qualified: nothing that could carry SQL. */
    private static final Pattern TABLE_NAME = Pattern.compile("([A-Za-z_][A-Za-z0-9_]{0,62}\\.)?[A-Za-z_][A-Za-z0-9_]{0,62}");
    /** A claim loses the race to a concurrent change of the row at most this often in a row. */
    private static final int CLAIM_ATTEMPTS = 20;

    private final DataSource dataSource;
    private final DriverManagerPool ownPool;
    private final String table;
    private final SqlDialect dialect;
    private final int queryTimeoutSeconds;
    private final int purgeBatchSize;
    private final String claimSql;
    private final String liveStateSql;
    private final String completeSql;
    private final String releaseSql;
    private final String purgeSql;

    private JdbcIdempotencyStore(Builder b, DataSource dataSource, DriverManagerPool ownPool, SqlDialect dialect) {
        this.dataSource = dataSource;
        this.ownPool = ownPool;
        this.table = b.table;
        this.dialect = dialect;
        this.queryTimeoutSeconds = (int) Math.min(Integer.MAX_VALUE, (b.queryTimeout.toMillis() + 999) / 1000);
        this.purgeBatchSize = b.purgeBatchSize;
        this.claimSql = dialect.claim(table);
        this.liveStateSql = dialect.liveState(table);
        this.completeSql = dialect.complete(table);
        this.releaseSql = dialect.release(table);
        this.purgeSql = dialect.purgeExpired(table);
    }

    /**
     * Starts configuring a store that connects to {@code jdbcUrl} itself, through
     * {@link java.sql.DriverManager} (the JDBC driver must be on the class path), and keeps a few
     * connections open for reuse ({@link Builder#poolSize}, default {@value #DEFAULT_POOL_SIZE}).
     * {@link #close()} closes them. The password never appears in messages or {@code toString()}.
     * For a full-featured pool (metrics, lifetimes), pass your own {@link DataSource} instead.
     *
     * @param user     the database user, or {@code null} if the URL names it
     * @param password the password, or {@code null} for none (or if the URL carries it)
     */
    public static Builder builder(String jdbcUrl, String user, String password) {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:")) {
            String shown = jdbcUrl == null ? "null" : new DriverManagerPool(jdbcUrl, user, password, 1, 0).maskedUrl();
            throw new ConfigurationException("idempotency store JDBC URL '" + shown + "' is not a JDBC URL; use e.g. "
                    + "jdbc:postgresql://host:5432/database");
        }
        return new Builder(jdbcUrl, user, password);
    }

    /** A store with the defaults on {@code dataSource}; the table must exist. */
    public static JdbcIdempotencyStore create(DataSource dataSource) {
        return builder(dataSource).build();
    }

    /** Starts configuring a store on {@code dataSource}. */
    public static Builder builder(DataSource dataSource) {
        return new Builder(dataSource);
    }

    @Override
    public Claim claim(String key, String owner, Duration lease) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        long leaseMillis = StoreArguments.millis("lease", lease);
        SQLException last = null;
        for (int attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
            try (Connection c = dataSource.getConnection()) {
                Claim result = inTransaction(c, () -> tryClaim(c, key, owner, leaseMillis));
                if (result != null) {
                    return result;
                }
                // the row expired, or was released or purged, between our two statements: again
            } catch (SQLException e) {
                if (!dialect.isTransientConflict(e.getSQLState())) {
                    throw failure("claim", key, e);
                }
                last = e;
            }
        }
        throw new IdempotencyStoreException("claim of key '" + key + "' in table " + table
                + " kept racing with concurrent changes of the same key " + CLAIM_ATTEMPTS
                + " times in a row; try again", last);
    }

    private Claim tryClaim(Connection c, String key, String owner, long leaseMillis) throws SQLException {
        try (PreparedStatement ps = prepare(c, claimSql)) {
            ps.setString(1, key);
            ps.setString(2, owner);
            ps.setLong(3, leaseMillis);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return Claim.ACQUIRED;
                }
            }
        }
        try (PreparedStatement ps = prepare(c, liveStateSql)) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return "DONE".equals(rs.getString(1)) ? Claim.DONE : Claim.IN_PROGRESS;
            }
        }
    }

    @Override
    public boolean complete(String key, String owner, Duration retention) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        long retentionMillis = StoreArguments.millis("retention", retention);
        try (Connection c = dataSource.getConnection()) {
            return inTransaction(c, () -> {
                try (PreparedStatement ps = prepare(c, completeSql)) {
                    ps.setLong(1, retentionMillis);
                    ps.setString(2, key);
                    ps.setString(3, owner);
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (SQLException e) {
            throw failure("complete", key, e);
        }
    }

    @Override
    public void release(String key, String owner) {
        StoreArguments.key(key, MAX_KEY_LENGTH);
        StoreArguments.owner(owner, MAX_OWNER_LENGTH);
        try (Connection c = dataSource.getConnection()) {
            inTransaction(c, () -> {
                try (PreparedStatement ps = prepare(c, releaseSql)) {
                    ps.setString(1, key);
                    ps.setString(2, owner);
                    return ps.executeUpdate();
                }
            });
        } catch (SQLException e) {
            throw failure("release", key, e);
        }
    }

    /**
     * Deletes the rows whose lease or retention has run out, in batches of the builder's
     * {@code purgeBatchSize} (each its own short transaction), and returns how many it deleted.
     * Expired rows are harmless (a claim takes them over) but take space: run this periodically,
     * from one instance; concurrent runs are safe. A claim that is live is never deleted.
     */
    public long purgeExpired() {
        long total = 0;
        try (Connection c = dataSource.getConnection()) {
            while (true) {
                int deleted = inTransaction(c, () -> {
                    try (PreparedStatement ps = prepare(c, purgeSql)) {
                        ps.setInt(1, purgeBatchSize);
                        return ps.executeUpdate();
                    }
                });
                total += deleted;
                if (deleted < purgeBatchSize) {
                    return total;
                }
            }
        } catch (SQLException e) {
            throw failure("purgeExpired", null, e);
        }
    }

    /**
     * Creates the table and its index if they do not exist, with the statements of the migration
     * script ({@code postgresql.sql}) for this store's table name. Safe to call at every start
     * and from several instances at once; it needs the right to create tables.
     */
    public void createTableIfMissing() {
        try (Connection c = dataSource.getConnection()) {
            inTransaction(c, () -> {
                for (String sql : dialect.createTable(table)) {
                    try (Statement st = c.createStatement()) {
                        st.setQueryTimeout(queryTimeoutSeconds);
                        st.execute(sql);
                    }
                }
                return null;
            });
        } catch (SQLException e) {
            if ("23505".equals(e.getSQLState()) || "42P07".equals(e.getSQLState())) {
                // another instance created it at the same moment (CREATE .. IF NOT EXISTS is not
                // atomic against a concurrent creator in PostgreSQL)
                return;
            }
            throw new IdempotencyStoreException("cannot create table " + table + " (" + describe(e)
                    + "); create it with the migration script dev/courier/reliability/idempotency/"
                    + PostgresDialect.MIGRATION + " from courier-reliability, or grant the right to create tables",
                    e, false);
        }
    }

    /** The table this store uses. */
    public String tableName() {
        return table;
    }

    /**
     * Closes the connections of a store built from a JDBC URL; a store on a {@link DataSource} of
     * yours leaves it alone.
     */
    @Override
    public void close() {
        if (ownPool != null) {
            ownPool.close();
        }
    }

    @Override
    public String toString() {
        return "JdbcIdempotencyStore[" + dialect.productName() + ", table=" + table
                + (ownPool == null ? "" : ", " + ownPool) + "]";
    }

    private PreparedStatement prepare(Connection c, String sql) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql);
        ps.setQueryTimeout(queryTimeoutSeconds);
        return ps;
    }

    private interface SqlWork<T> {
        T run() throws SQLException;
    }

    /** Runs work as its own transaction whether or not the pool hands out auto-commit connections. */
    private static <T> T inTransaction(Connection c, SqlWork<T> work) throws SQLException {
        if (c.getAutoCommit()) {
            return work.run();
        }
        try {
            T result = work.run();
            c.commit();
            return result;
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private IdempotencyStoreException failure(String operation, String key, SQLException e) {
        return new IdempotencyStoreException(operation + (key == null ? "" : " of key '" + key + "'")
                + " failed on table " + table + ": " + describe(e)
                + (isMissingTable(e) ? "; create the table with createTableIfMissing() or the migration script "
                        + PostgresDialect.MIGRATION : ""),
                e, !isMissingTable(e));
    }

    private static boolean isMissingTable(SQLException e) {
        return "42P01".equals(e.getSQLState());
    }

    private static String describe(SQLException e) {
        return e.getMessage() + (e.getSQLState() == null ? "" : " [SQLState " + e.getSQLState() + "]");
    }

    /**
     * Configures a {@link JdbcIdempotencyStore}. Every setter validates its argument at once
     * ({@link IllegalArgumentException} naming what is allowed).
     */
    public static final class Builder {

        private final DataSource dataSource;
        private final String jdbcUrl;
        private final String user;
        private final String password;
        private int poolSize = DEFAULT_POOL_SIZE;
        private String table = DEFAULT_TABLE;
        private boolean createTable;
        private Duration queryTimeout = DEFAULT_QUERY_TIMEOUT;
        private int purgeBatchSize = DEFAULT_PURGE_BATCH_SIZE;

        private Builder(DataSource dataSource) {
            this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
            this.jdbcUrl = null;
            this.user = null;
            this.password = null;
        }

        private Builder(String jdbcUrl, String user, String password) {
            this.dataSource = null;
            this.jdbcUrl = jdbcUrl;
            this.user = user;
            this.password = password;
        }

        /**
         * How many connections a store built from a JDBC URL keeps open at most (default
         * {@value JdbcIdempotencyStore#DEFAULT_POOL_SIZE}; 1 to 100). Store calls beyond that wait for
         * a free connection, up to the query timeout.
         *
         * @throws IllegalStateException on a builder for a {@link DataSource} (size that pool instead)
         */
        public Builder poolSize(int poolSize) {
            if (dataSource != null) {
                throw new IllegalStateException("poolSize applies to a store built from a JDBC URL; "
                        + "this one uses the DataSource it was given, size that pool instead");
            }
            if (poolSize < 1 || poolSize > 100) {
                throw new IllegalArgumentException("poolSize must be between 1 and 100, got " + poolSize);
            }
            this.poolSize = poolSize;
            return this;
        }

        /**
         * The table name (default {@value JdbcIdempotencyStore#DEFAULT_TABLE}), optionally
         * schema-qualified ({@code schema.table}): letters, digits and underscores, not starting
         * with a digit, at most 63 characters per part. Anything else is refused, so the name can
         * never carry SQL.
         */
        public Builder tableName(String tableName) {
            if (tableName == null || !TABLE_NAME.matcher(tableName).matches()) {
                throw new ConfigurationException("idempotency table name '" + tableName + "' is not allowed: use "
                        + "letters, digits and underscores, not starting with a digit, at most 63 characters, "
                        + "optionally schema-qualified as schema.table (e.g. " + DEFAULT_TABLE + ")");
            }
            this.table = tableName;
            return this;
        }

        /** Whether {@link #build()} runs {@link JdbcIdempotencyStore#createTableIfMissing()} (default false). */
        public Builder createTableIfMissing(boolean createTableIfMissing) {
            this.createTable = createTableIfMissing;
            return this;
        }

        /** How long one statement may run before it fails (default 30s; at least 1s, rounded up to seconds). */
        public Builder queryTimeout(Duration queryTimeout) {
            if (queryTimeout == null || queryTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("queryTimeout must be at least 1s, got " + queryTimeout);
            }
            this.queryTimeout = queryTimeout;
            return this;
        }

        /** Rows one {@code purgeExpired()} statement deletes at most (default 10000; 1 to 1000000). */
        public Builder purgeBatchSize(int purgeBatchSize) {
            if (purgeBatchSize < 1 || purgeBatchSize > 1_000_000) {
                throw new IllegalArgumentException("purgeBatchSize must be between 1 and 1000000, got " + purgeBatchSize);
            }
            this.purgeBatchSize = purgeBatchSize;
            return this;
        }

        /**
         * Connects once to learn the database product, picks its SQL, and creates the table if
         * asked.
         *
         * @throws BrokerUnavailableException if no connection can be had from the DataSource
         * @throws ConfigurationException if the database product is not supported
         */
        public JdbcIdempotencyStore build() {
            DriverManagerPool pool = jdbcUrl == null ? null
                    : new DriverManagerPool(jdbcUrl, user, password, poolSize, queryTimeout.toNanos());
            DataSource source = pool != null ? pool : dataSource;
            try {
                String product;
                try (Connection c = source.getConnection()) {
                    product = c.getMetaData().getDatabaseProductName();
                } catch (SQLException e) {
                    throw new BrokerUnavailableException("cannot connect to the idempotency store database through "
                            + (pool != null ? pool.toString() : source.getClass().getName()) + ": " + describe(e)
                            + "; check the URL and credentials and that the database is up", e);
                }
                JdbcIdempotencyStore store = new JdbcIdempotencyStore(this, source, pool, SqlDialect.forProduct(product));
                if (createTable) {
                    store.createTableIfMissing();
                }
                return store;
            } catch (RuntimeException e) {
                if (pool != null) {
                    pool.close();
                }
                throw e;
            }
        }
    }
}
