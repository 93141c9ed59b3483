-- Courier idempotency store: the table JdbcIdempotencyStore uses on PostgreSQL (9.5 or newer).
--
-- Run it with your migrations (Flyway, Liquibase, psql -f), or let the store create it:
-- JdbcIdempotencyStore.builder(dataSource).createTableIfMissing(true).build().
-- For another table name replace courier_idempotency everywhere below, and pass the same name to
-- JdbcIdempotencyStore.Builder.tableName(...).
--
-- One row per claimed key:
--   idem_key    the idempotency key (KEY itself is reserved in several databases)
--   owner       the token of the processing attempt that holds or completed the key
--   state       IN_PROGRESS while an attempt holds a lease, DONE once it completed
--   expires_at  end of the lease while IN_PROGRESS, end of the retention once DONE; a row whose
--               expires_at has passed may be claimed again, and purgeExpired() deletes it
-- Times come from the database clock (now()), never from the consumers' clocks.

CREATE TABLE IF NOT EXISTS courier_idempotency (
    idem_key   VARCHAR(512) NOT NULL PRIMARY KEY,
    owner      VARCHAR(200) NOT NULL,
    state      VARCHAR(16)  NOT NULL CHECK (state IN ('IN_PROGRESS', 'DONE')),
    expires_at TIMESTAMPTZ  NOT NULL
);

-- purgeExpired() deletes by expires_at
CREATE INDEX IF NOT EXISTS courier_idempotency_expires_at_idx ON courier_idempotency (expires_at);
