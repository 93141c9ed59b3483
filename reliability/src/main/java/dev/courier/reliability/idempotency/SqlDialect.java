package dev.courier.reliability.idempotency;

import dev.courier.ConfigurationException;
import java.util.List;
import java.util.Locale;

/**
 * Every SQL statement {@link JdbcIdempotencyStore} runs, for one database product. Adding a
 * database means adding one implementation here and a migration script beside {@code
 * postgresql.sql}; the store's logic does not change.
 *
 * <p>Statement parameters, in order, are listed on each method. Every time comparison uses the
 * database clock.
 */
interface SqlDialect {

    /** The product name as JDBC reports it, e.g. {@code PostgreSQL}. */
    String productName();

    /** The statements that create the table and its index if missing (the migration script). */
    List<String> createTable(String table);

    /**
     * Takes the key if it is free, expired or done past its retention: one atomic statement that
     * returns a row exactly when the caller acquired the key. Parameters: key, owner, lease millis.
     */
    String claim(String table);

    /** The state of the key's row if it has not expired (no row otherwise). Parameter: key. */
    String liveState(String table);

    /** Marks the key done if owner still holds it. Parameters: retention millis, key, owner. */
    String complete(String table);

    /** Deletes the key's row if owner holds it and it is not done. Parameters: key, owner. */
    String release(String table);

    /** Deletes up to a batch of expired rows. Parameter: batch size. */
    String purgeExpired(String table);

    /** Whether the SQL state is a transient conflict worth running the same statement again for. */
    default boolean isTransientConflict(String sqlState) {
        // 40001 serialization failure, 40P01 deadlock detected
        return sqlState != null && sqlState.startsWith("40");
    }

    /** The dialect for a database product, or a {@link ConfigurationException} naming what is supported. */
    static SqlDialect forProduct(String productName) {
        String name = productName == null ? "" : productName.toLowerCase(Locale.ROOT);
        if (name.contains("postgresql")) {
            return new PostgresDialect();
        }
        throw new ConfigurationException("JdbcIdempotencyStore does not support the database '" + productName
                + "'; supported: PostgreSQL. Use a PostgreSQL DataSource, or the RedisIdempotencyStore "
                + "(see docs/reliability.md#idempotency-stores)");
    }
}
