package dev.courier.reliability.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.reliability.idempotency.IdempotencyStore.Claim;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The protocol every {@link IdempotencyStore} keeps. A store's test extends this class and
 * supplies {@link #createStore()}; each case uses keys of its own, so stores may be shared.
 */
public abstract class IdempotencyStoreContract {

    /** A lease no case outlives. */
    protected static final Duration LONG = Duration.ofHours(1);
    /** A lease or retention that runs out while a case waits for it. */
    protected static final Duration SHORT = Duration.ofMillis(200);
    private static final Duration PATIENCE = Duration.ofSeconds(30);

    protected IdempotencyStore store;

    /** A new store on the backend under test; closed after each case. */
    protected abstract IdempotencyStore createStore();

    @BeforeEach
    void openStore() {
        store = createStore();
    }

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
    }

    protected static String newKey() {
        return "key-" + UUID.randomUUID();
    }

    protected static String newOwner() {
        return "owner-" + UUID.randomUUID();
    }

    /** Polls {@code condition} until it holds, failing after a generous timeout. */
    protected static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + PATIENCE + " waiting until " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what, e);
            }
        }
    }

    @Nested
    @DisplayName("claim")
    class Claiming {

        @Test
        @DisplayName("the first claim of a key acquires it")
        void firstClaimAcquires() {
            assertThat(store.claim(newKey(), newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }

        @Test
        @DisplayName("a second owner sees IN_PROGRESS while the lease runs")
        void secondOwnerSeesInProgress() {
            String key = newKey();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
        }

        @Test
        @DisplayName("after the lease runs out with nobody claiming the key, its owner still completes it")
        void ownerCompletesAfterItsLeaseRanOut() throws InterruptedException {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, SHORT)).isEqualTo(Claim.ACQUIRED);
            Thread.sleep(SHORT.toMillis() * 3);
            assertThat(store.complete(key, owner, LONG)).as("complete by the owner whose lease ran out, nobody took over").isTrue();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
        }

        @Test
        @DisplayName("after the lease runs out another owner acquires, and the first can no longer complete")
        void expiredLeaseCanBeTakenOver() {
            String key = newKey();
            String first = newOwner();
            assertThat(store.claim(key, first, SHORT)).isEqualTo(Claim.ACQUIRED);
            String second = newOwner();
            await("another owner acquires the expired claim", () -> store.claim(key, second, LONG) == Claim.ACQUIRED);

            assertThat(store.complete(key, first, LONG)).as("complete by the owner whose lease ran out").isFalse();
            store.release(key, first);
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
            assertThat(store.complete(key, second, LONG)).isTrue();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
        }

        @Test
        @DisplayName("keys are isolated from each other")
        void keysAreIsolated() {
            String a = newKey();
            String b = newKey();
            String ownerA = newOwner();
            String ownerB = newOwner();
            assertThat(store.claim(a, ownerA, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.claim(b, ownerB, LONG)).isEqualTo(Claim.ACQUIRED);

            assertThat(store.complete(a, ownerA, LONG)).isTrue();
            assertThat(store.claim(b, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
            assertThat(store.complete(b, ownerA, LONG)).as("owner of a completing b").isFalse();

            store.release(b, ownerB);
            assertThat(store.claim(a, newOwner(), LONG)).isEqualTo(Claim.DONE);
            assertThat(store.claim(b, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.claim(newKey(), newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }

        @Test
        @DisplayName("bad arguments are refused with IllegalArgumentException")
        void badArguments() {
            assertThatThrownBy(() -> store.claim(null, newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("key");
            assertThatThrownBy(() -> store.claim("", newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.claim(newKey(), "", LONG)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("owner");
            assertThatThrownBy(() -> store.claim(newKey(), newOwner(), Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lease");
            assertThatThrownBy(() -> store.claim(newKey(), newOwner(), Duration.ofMillis(-5)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.complete(newKey(), newOwner(), null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("retention");
            assertThatThrownBy(() -> store.claim("k".repeat(100_000), newOwner(), LONG))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most");
        }

        @Test
        @DisplayName("keys no store can keep as they are (a NUL, an unpaired surrogate) are refused with IllegalArgumentException; paired surrogates are fine")
        void unstorableKeys() {
            assertThatThrownBy(() -> store.claim("order\u00001", newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("NUL character at index 5");
            assertThatThrownBy(() -> store.claim("order\uD800x", newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("unpaired surrogate");
            assertThatThrownBy(() -> store.claim("order\uDC00", newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("unpaired surrogate");
            assertThatThrownBy(() -> store.complete("order\u0000", newOwner(), LONG)).isInstanceOf(IllegalArgumentException.class);
            String emoji = newKey() + "-\uD83D\uDE00";
            String owner = newOwner();
            assertThat(store.claim(emoji, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(emoji, owner, LONG)).isTrue();
            assertThat(store.claim(emoji, newOwner(), LONG)).isEqualTo(Claim.DONE);
        }
    }

    @Nested
    @DisplayName("complete")
    class Completing {

        @Test
        @DisplayName("makes the key DONE for everyone, the owner included")
        void completeMakesDone() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(key, owner, LONG)).isTrue();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
            assertThat(store.claim(key, newOwner(), Duration.ofMillis(1))).isEqualTo(Claim.DONE);
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.DONE);
        }

        @Test
        @DisplayName("DONE lasts until the retention runs out; then the key can be claimed again")
        void doneExpiresWithRetention() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(key, owner, SHORT)).isTrue();
            String next = newOwner();
            await("the key is claimable after its retention", () -> store.claim(key, next, LONG) == Claim.ACQUIRED);
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
        }

        @Test
        @DisplayName("by a non-owner returns false and changes nothing")
        void completeByNonOwner() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(key, newOwner(), LONG)).isFalse();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
            assertThat(store.complete(key, owner, LONG)).isTrue();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
        }

        @Test
        @DisplayName("of a key nobody claimed returns false and does not make it DONE")
        void completeUnclaimed() {
            String key = newKey();
            assertThat(store.complete(key, newOwner(), LONG)).isFalse();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }

        @Test
        @DisplayName("after a release returns false")
        void completeAfterRelease() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            store.release(key, owner);
            assertThat(store.complete(key, owner, LONG)).isFalse();
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }
    }

    @Nested
    @DisplayName("release")
    class Releasing {

        @Test
        @DisplayName("by the owner lets another owner claim at once")
        void releaseByOwner() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            store.release(key, owner);
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }

        @Test
        @DisplayName("by a non-owner is ignored")
        void releaseByNonOwner() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            store.release(key, newOwner());
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.IN_PROGRESS);
            assertThat(store.complete(key, owner, LONG)).isTrue();
        }

        @Test
        @DisplayName("of a DONE key is ignored, even by its owner")
        void releaseOfDone() {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(key, owner, LONG)).isTrue();
            store.release(key, owner);
            store.release(key, newOwner());
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.DONE);
        }

        @Test
        @DisplayName("of a key nobody holds does nothing")
        void releaseUnclaimed() {
            String key = newKey();
            store.release(key, newOwner());
            assertThat(store.claim(key, newOwner(), LONG)).isEqualTo(Claim.ACQUIRED);
        }
    }

    @Nested
    @DisplayName("concurrent claims")
    class Racing {

        static final int THREADS = 8;
        static final int KEYS = 40;

        @Test
        @DisplayName("of a new key: exactly one owner acquires it, for every key")
        void raceOnNewKeys() throws Exception {
            for (int i = 0; i < KEYS; i++) {
                String key = newKey();
                Map<Claim, Integer> results = race(key);
                assertThat(results.get(Claim.ACQUIRED)).as("ACQUIRED for key %s in %s", key, results).isEqualTo(1);
                assertThat(results.get(Claim.IN_PROGRESS)).as("IN_PROGRESS in %s", results).isEqualTo(THREADS - 1);
            }
        }

        @Test
        @DisplayName("of a key whose lease ran out: exactly one owner takes it over, for every key")
        void raceOnExpiredKeys() throws Exception {
            for (int i = 0; i < KEYS / 2; i++) {
                String key = newKey();
                assertThat(store.claim(key, newOwner(), Duration.ofMillis(1))).isEqualTo(Claim.ACQUIRED);
                // a 1ms lease, measured by the store's own clock, has run out well before 50ms
                Thread.sleep(50);
                Map<Claim, Integer> results = race(key);
                assertThat(results.get(Claim.ACQUIRED)).as("ACQUIRED for key %s in %s", key, results).isEqualTo(1);
                assertThat(results.get(Claim.IN_PROGRESS)).as("IN_PROGRESS in %s", results).isEqualTo(THREADS - 1);
            }
        }

        @Test
        @DisplayName("of a DONE key: everyone sees DONE")
        void raceOnDoneKey() throws Exception {
            String key = newKey();
            String owner = newOwner();
            assertThat(store.claim(key, owner, LONG)).isEqualTo(Claim.ACQUIRED);
            assertThat(store.complete(key, owner, LONG)).isTrue();
            Map<Claim, Integer> results = race(key);
            assertThat(results.get(Claim.DONE)).as("DONE in %s", results).isEqualTo(THREADS);
        }

        private Map<Claim, Integer> race(String key) throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CountDownLatch ready = new CountDownLatch(THREADS);
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Claim>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    futures.add(pool.submit(() -> {
                        ready.countDown();
                        go.await();
                        return store.claim(key, newOwner(), LONG);
                    }));
                }
                assertThat(ready.await(30, TimeUnit.SECONDS)).as("all racers started").isTrue();
                go.countDown();
                Map<Claim, Integer> counts = new EnumMap<>(Claim.class);
                for (Claim c : Claim.values()) {
                    counts.put(c, 0);
                }
                for (Future<Claim> f : futures) {
                    counts.merge(f.get(60, TimeUnit.SECONDS), 1, Integer::sum);
                }
                return counts;
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
