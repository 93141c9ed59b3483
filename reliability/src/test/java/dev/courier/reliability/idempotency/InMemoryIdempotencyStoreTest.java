package dev.courier.reliability.idempotency;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static dev.courier.reliability.idempotency.IdempotencyStore.Claim.ACQUIRED;
import static dev.courier.reliability.idempotency.IdempotencyStore.Claim.DONE;
import static dev.courier.reliability.idempotency.IdempotencyStore.Claim.IN_PROGRESS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The shared {@link IdempotencyStoreContract} on a fresh in-memory store, plus what only this store does (bound, injected clock). */
@DisplayName("InMemoryIdempotencyStore")
class InMemoryIdempotencyStoreTest extends IdempotencyStoreContract {

    @Override
    protected IdempotencyStore createStore() {
        return new InMemoryIdempotencyStore();
    }

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(now.get());
        }
    };

    private static final Duration LEASE = Duration.ofSeconds(10);
    private static final Duration RETENTION = Duration.ofMinutes(1);

    @Test
    void claimCompleteRelease() {
        InMemoryIdempotencyStore s = new InMemoryIdempotencyStore(100, clock);
        assertThat(s.claim("k", "a", LEASE)).isEqualTo(ACQUIRED);
        assertThat(s.claim("k", "b", LEASE)).isEqualTo(IN_PROGRESS);
        s.release("k", "b"); // not b's: ignored
        assertThat(s.claim("k", "b", LEASE)).isEqualTo(IN_PROGRESS);
        s.release("k", "a");
        assertThat(s.claim("k", "b", LEASE)).isEqualTo(ACQUIRED);
        assertThat(s.complete("k", "b", RETENTION)).isTrue();
        assertThat(s.claim("k", "c", LEASE)).isEqualTo(DONE);
        s.release("k", "b"); // done keys are not released
        assertThat(s.claim("k", "c", LEASE)).isEqualTo(DONE);
    }

    @Test
    void leasesAndRetentionExpire() {
        InMemoryIdempotencyStore s = new InMemoryIdempotencyStore(100, clock);
        assertThat(s.claim("k", "a", LEASE)).isEqualTo(ACQUIRED);
        now.addAndGet(LEASE.toMillis());
        assertThat(s.claim("k", "b", LEASE)).as("a's lease ran out").isEqualTo(ACQUIRED);
        assertThat(s.complete("k", "a", RETENTION)).as("a no longer holds it").isFalse();
        assertThat(s.complete("k", "b", RETENTION)).isTrue();
        now.addAndGet(RETENTION.toMillis() - 1);
        assertThat(s.claim("k", "c", LEASE)).isEqualTo(DONE);
        now.addAndGet(1);
        assertThat(s.claim("k", "c", LEASE)).as("forgotten after retention").isEqualTo(ACQUIRED);
    }

    @Test
    void boundedAndEvictsExpiredEntries() {
        InMemoryIdempotencyStore s = new InMemoryIdempotencyStore(3, clock);
        for (int i = 0; i < 5; i++) {
            s.claim("k" + i, "o", LEASE);
            s.complete("k" + i, "o", RETENTION);
        }
        assertThat(s.size()).isEqualTo(3);
        assertThat(s.claim("k0", "x", LEASE)).as("the oldest key was forgotten").isEqualTo(ACQUIRED);
        assertThat(s.claim("k4", "x", LEASE)).isEqualTo(DONE);
        now.addAndGet(RETENTION.toMillis() + 1);
        s.claim("fresh", "x", LEASE);
        assertThat(s.size()).as("expired entries are evicted as they are met").isLessThanOrEqualTo(2);
    }

    @Test
    void oneOwnerWinsUnderContention() throws Exception {
        InMemoryIdempotencyStore s = new InMemoryIdempotencyStore();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int round = 0; round < 200; round++) {
                String key = "k" + round;
                List<Future<IdempotencyStore.Claim>> claims = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    String owner = "o" + t;
                    claims.add(pool.submit(() -> s.claim(key, owner, LEASE)));
                }
                int acquired = 0;
                for (Future<IdempotencyStore.Claim> f : claims) {
                    acquired += f.get() == ACQUIRED ? 1 : 0;
                }
                assertThat(acquired).as("claims of " + key + " acquired").isEqualTo(1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void refusesBadArguments() {
        InMemoryIdempotencyStore s = new InMemoryIdempotencyStore();
        assertThatThrownBy(() -> new InMemoryIdempotencyStore(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxEntries");
        assertThatThrownBy(() -> s.claim("k", "o", Duration.ZERO)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lease");
    }
}
