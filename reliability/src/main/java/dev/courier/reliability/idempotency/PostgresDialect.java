package dev.courier.reliability.idempotency;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** PostgreSQL 9.5+ ({@code INSERT .. ON CONFLICT}). */
final class PostgresDialect implements SqlDialect {

    /** The migration script, written for the default table name. */
    static final String MIGRATION = "postgresql.sql";

    private static final String LEASE = "now() + ? * INTERVAL '1 millisecond'";

    @Override
    public String productName() {
        return "PostgreSQL";
    }

    @Override
    public List<String> createTable(String table) {
        String script = readMigration();
        // an index name cannot be schema-qualified: it lives in its table's schema
        String unqualified = table.substring(table.lastIndexOf('.') + 1);
        script = script.replace(JdbcIdempotencyStore.DEFAULT_TABLE + "_expires_at_idx", unqualified + "_expires_at_idx")
                .replace(JdbcIdempotencyStore.DEFAULT_TABLE, table);
        List<String> statements = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            current.append(line).append('\n');
            if (trimmed.endsWith(";")) {
                String sql = current.toString().strip();
                statements.add(sql.substring(0, sql.length() - 1));
                current.setLength(0);
            }
        }
        if (!current.isEmpty()) {
            statements.add(current.toString().strip());
        }
        return statements;
    }

    @Override
    public String claim(String table) {
        // Two claimers of one key: the primary key lets only one INSERT through; the other turns
        // into the DO UPDATE, which locks the row and re-evaluates the WHERE against the winner's
        // committed version (expires_at in the future), so it updates nothing and returns no row.
        return "INSERT INTO " + table + " AS cur (idem_key, owner, state, expires_at)"
                + " VALUES (?, ?, 'IN_PROGRESS', " + LEASE + ")"
                + " ON CONFLICT (idem_key) DO UPDATE"
                + " SET owner = EXCLUDED.owner, state = 'IN_PROGRESS', expires_at = EXCLUDED.expires_at"
                + " WHERE cur.expires_at <= now()"
                + " RETURNING cur.owner";
    }

    @Override
    public String liveState(String table) {
        return "SELECT state FROM " + table + " WHERE idem_key = ? AND expires_at > now()";
    }

    @Override
    public String complete(String table) {
        return "UPDATE " + table + " SET state = 'DONE', expires_at = " + LEASE
                + " WHERE idem_key = ? AND owner = ?";
    }

    @Override
    public String release(String table) {
        return "DELETE FROM " + table + " WHERE idem_key = ? AND owner = ? AND state = 'IN_PROGRESS'";
    }

    @Override
    public String purgeExpired(String table) {
        // the outer expiry check is re-evaluated on rows a concurrent claim just renewed, so a
        // live claim is never deleted
        return "DELETE FROM " + table + " WHERE idem_key IN (SELECT idem_key FROM " + table
                + " WHERE expires_at <= now() LIMIT ?) AND expires_at <= now()";
    }

    private static String readMigration() {
        try (InputStream in = PostgresDialect.class.getResourceAsStream(MIGRATION)) {
            if (in == null) {
                throw new IllegalStateException("resource " + MIGRATION + " is missing from courier-reliability");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + MIGRATION, e);
        }
    }
}
