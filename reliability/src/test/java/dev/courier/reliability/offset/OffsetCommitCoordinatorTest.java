package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("OffsetCommitCoordinator")
class OffsetCommitCoordinatorTest extends CoordinatorFixture {

    @Nested
    @DisplayName("commits")
    class Commits {

        @Test
        @DisplayName("commit the offset after the last record once every record is done")
        void commitsNextOffsetWhenAllDone() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2);
            succeed(P0, 0, 1, 2);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 3L));
        }

        @Test
        @DisplayName("never commit a finished record above an unfinished one")
        void stopsAtFirstUnfinished() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2, 3);
            succeed(P0, 1, 2);
            assertThat(c.committableOffsets()).as("0 is unfinished").isEmpty();
            succeed(P0, 0);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 3L));
            succeed(P0, 3);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 4L));
        }

        @Test
        @DisplayName("offsets that were never delivered (compaction, transaction markers) do not pin the watermark")
        void gapsDoNotPin() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 5, 9);
            succeed(P0, 5);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 9L));
            succeed(P0, 9);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 10L));
        }

        @Test
        @DisplayName("return only partitions whose watermark advanced since the last hand-out")
        void onlyAdvancedPartitions() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            submit(c, P1, 0, 1);
            succeed(P0, 0);
            succeed(P1, 0);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L, P1, 1L));
            assertThat(c.committableOffsets()).isEmpty();
            succeed(P1, 1);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P1, 2L));
        }

        @Test
        @DisplayName("a late commit callback with an older offset does not move the committed offset back")
        void lateCallbackDoesNotRegress() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2, 3, 4, 5);
            succeed(P0, 0, 1, 2);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 3L));
            succeed(P0, 3, 4, 5);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 6L));
            c.onCommitted(P0, 6);
            c.onCommitted(P0, 3);
            assertThat(c.stats(P0).committedOffset()).isEqualTo(6);
        }

        @Test
        @DisplayName("a commit callback above anything handed out in this assignment is ignored")
        void foreignCallbackIgnored() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            succeed(P0, 0);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L));
            c.onCommitted(P0, 100);
            assertThat(c.stats(P0).committedOffset()).isEqualTo(-1);
            c.onCommitted(P0, 1);
            assertThat(c.stats(P0).committedOffset()).isEqualTo(1);
        }

        @Test
        @DisplayName("a failed commit is offered again")
        void failedCommitOfferedAgain() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            succeed(P0, 0);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L));
            c.onCommitFailed(P0, 1);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L));
        }

        @Test
        @DisplayName("pollCommits returns offsets only when the commit interval has passed")
        void periodicCommits() {
            var c = builder(OrderingMode.UNORDERED).commitInterval(Duration.ofMillis(100)).build();
            long ms = 1_000_000L;
            submit(c, P0, 0, 1);
            assertThat(c.pollCommits(1_000 * ms)).as("first call starts the clock").isEmpty();
            succeed(P0, 0);
            assertThat(c.pollCommits(1_050 * ms)).isEmpty();
            assertThat(c.pollCommits(1_100 * ms)).isEqualTo(Map.of(P0, 1L));
            succeed(P0, 1);
            assertThat(c.pollCommits(1_150 * ms)).isEmpty();
            assertThat(c.committableOffsets()).as("commit now ignores the interval").isEqualTo(Map.of(P0, 2L));
        }

        @Test
        @DisplayName("nothing is committable before any record of the assignment finished")
        void nothingBeforeProgress() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 42);
            assertThat(c.committableOffsets()).isEmpty();
            assertThat(c.stats(P0).committableOffset()).isEqualTo(42);
        }
    }

    @Nested
    @DisplayName("ordering")
    class Ordering {

        @Test
        @DisplayName("PARTITION runs one record at a time per partition, in offset order, partitions in parallel")
        void partitionMode() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1, 2);
            submit(c, P1, 7);
            assertThat(processor.runningOffsets(P0)).containsExactly(0L);
            assertThat(processor.runningOffsets(P1)).containsExactly(7L);
            succeed(P0, 0);
            assertThat(processor.runningOffsets(P0)).containsExactly(1L);
            succeed(P0, 1, 2);
            assertThat(processor.startedOffsets(P0)).containsExactly(0L, 1L, 2L);
        }

        @Test
        @DisplayName("KEY runs a key's records one at a time in offset order and different keys in parallel")
        void keyMode() {
            var c = coordinator(OrderingMode.KEY);
            submit(c, P0, 0, "a");
            submit(c, P0, 1, "b");
            submit(c, P0, 2, "a");
            submit(c, P0, 3, "b");
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L);
            succeed(P0, 1);
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 3L);
            succeed(P0, 0);
            assertThat(processor.runningOffsets(P0)).containsExactly(3L, 2L);
        }

        @Test
        @DisplayName("KEY treats records without a key as one lane per partition")
        void nullKeysShareALane() {
            var c = coordinator(OrderingMode.KEY);
            submit(c, P0, 0, null);
            submit(c, P0, 1, null);
            submit(c, P0, 2, "a");
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 2L);
            succeed(P0, 0);
            assertThat(processor.runningOffsets(P0)).containsExactly(2L, 1L);
        }

        @Test
        @DisplayName("UNORDERED runs every record at once, up to the concurrency limit")
        void unorderedMode() {
            var c = builder(OrderingMode.UNORDERED).maxConcurrency(3).build();
            submit(c, P0, 0, 1, 2, 3, 4);
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 1L, 2L);
            assertThat(c.runningHandlers()).isEqualTo(3);
            succeed(P0, 1);
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 2L, 3L);
        }

        @Test
        @DisplayName("records queued behind their key take no concurrency permit")
        void queuedRecordsTakeNoPermit() {
            var c = builder(OrderingMode.KEY).maxConcurrency(2).build();
            for (long offset = 0; offset < 10; offset++) {
                submit(c, P0, offset, "hot");
            }
            submit(c, P0, 10, "cold");
            assertThat(processor.runningOffsets(P0)).containsExactly(0L, 10L);
            assertThat(c.stats(P0).queued()).isEqualTo(9);
        }

        @Test
        @DisplayName("a stuck record holds only its own key while other keys keep flowing")
        void stuckRecordHoldsOnlyItsKey() {
            var c = coordinator(OrderingMode.KEY);
            submit(c, P0, 0, "stuck");
            submit(c, P0, 1, "stuck");
            for (long offset = 2; offset < 12; offset++) {
                submit(c, P0, offset, "k" + offset % 3);
            }
            for (long offset = 2; offset < 12; offset++) {
                succeed(P0, offset);
            }
            assertThat(processor.startedOffsets(P0)).contains(2L, 5L, 11L).doesNotContain(1L);
            assertThat(c.stats(P0).committableOffset()).as("offset 0 still pins the watermark").isEqualTo(0);
            assertThat(c.stats(P0).held()).isEqualTo(12);
            succeed(P0, 0, 1);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 12L));
        }

        @Test
        @DisplayName("a stuck record holds only its own partition in PARTITION mode")
        void stuckRecordHoldsOnlyItsPartition() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1);
            submit(c, P1, 0, 1, 2);
            succeed(P1, 0, 1, 2);
            assertThat(processor.runningOffsets(P0)).containsExactly(0L);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P1, 3L));
        }
    }

    @Nested
    @DisplayName("failures")
    class Failures {

        @Test
        @DisplayName("a failed record blocks its key and the watermark until it is retried and succeeds")
        void failureBlocksUntilRetried() {
            var c = coordinator(OrderingMode.KEY);
            submit(c, P0, 0, "a");
            submit(c, P0, 1, "a");
            fail(P0, 0);
            InFlightRecord<TestRecord> failed = failures.only();
            assertThat(failed.offset()).isZero();
            assertThat(failed.attempt()).isEqualTo(1);
            assertThat(processor.runningOffsets(P0)).as("1 waits behind failed 0").isEmpty();
            assertThat(c.stats(P0).failed()).isEqualTo(1);
            assertThat(c.runningHandlers()).as("a failed record holds no permit").isZero();

            assertThat(c.retry(failed)).isTrue();
            executor.runAll();
            assertThat(processor.runningOffsets(P0)).containsExactly(0L);
            assertThat(failed.attempt()).isEqualTo(2);
            succeed(P0, 0);
            assertThat(processor.runningOffsets(P0)).containsExactly(1L);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L));
        }

        @Test
        @DisplayName("markDone after a failure (dead-lettered) finishes the record")
        void markDoneFinishes() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1);
            fail(P0, 0);
            assertThat(c.markDone(failures.only())).isTrue();
            executor.runAll();
            assertThat(processor.runningOffsets(P0)).containsExactly(1L);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 1L));
        }

        @Test
        @DisplayName("a processor that throws counts as a failure")
        void throwingProcessorFails() {
            var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                throw new IllegalStateException("no");
            }, failures).executor(Runnable::run).build();
            c.submit(P0, 0, null, new TestRecord(P0, 0, null));
            assertThat(failures.lastCause()).hasMessage("no");
            assertThat(c.runningHandlers()).isZero();
        }

        @Test
        @DisplayName("a processor returning null counts as a failure with an explanation")
        void nullStageFails() {
            var c = OffsetCommitCoordinator.<TestRecord>builder(r -> null, failures).executor(Runnable::run).build();
            c.submit(P0, 0, null, new TestRecord(P0, 0, null));
            assertThat(failures.lastCause()).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("completedFuture(null)");
        }

        @Test
        @DisplayName("an executor that rejects the task counts as a failure and returns the permit")
        void rejectedExecutionFails() {
            var c = OffsetCommitCoordinator.builder(processor, failures).executor(task -> {
                throw new java.util.concurrent.RejectedExecutionException("full");
            }).build();
            c.submit(P0, 0, null, new TestRecord(P0, 0, null));
            assertThat(failures.lastCause()).hasMessage("full");
            assertThat(c.runningHandlers()).isZero();
        }

        @Test
        @DisplayName("retry and markDone are refused for a record that has not failed or was already resolved")
        void resolveOnlyFailed() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0);
            fail(P0, 0);
            InFlightRecord<TestRecord> failed = failures.only();
            c.retry(failed);
            executor.runAll();
            assertThatThrownBy(() -> c.markDone(failed)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is running");
            assertThatThrownBy(() -> c.retry(failed)).isInstanceOf(IllegalStateException.class);
        }

        @Test
        @DisplayName("a record from another coordinator is rejected")
        void foreignHandleRejected() {
            var c = coordinator(OrderingMode.PARTITION);
            var other = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0);
            fail(P0, 0);
            assertThatThrownBy(() -> other.markDone(failures.only()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("another coordinator");
        }
    }

    @Nested
    @DisplayName("back-pressure")
    class BackPressure {

        @Test
        @DisplayName("pause every assigned partition at the bound and resume them all at the threshold")
        void pauseAndResume() {
            var c = builder(OrderingMode.UNORDERED).maxInFlight(4).resumeThreshold(1).build();
            c.onPartitionsAssigned(List.of(P0, P1));
            submit(c, P0, 0, 1, 2);
            assertThat(c.partitionsToPause()).isEmpty();
            submit(c, P1, 0);
            assertThat(c.partitionsToPause()).containsExactlyInAnyOrder(P0, P1);
            assertThat(c.partitionsToPause()).as("each pause reported once").isEmpty();
            succeed(P0, 0, 1);
            assertThat(c.heldRecords()).isEqualTo(2);
            assertThat(c.partitionsToResume()).as("still above the threshold").isEmpty();
            succeed(P0, 2);
            assertThat(c.partitionsToResume()).containsExactlyInAnyOrder(P0, P1);
            assertThat(c.partitionsToResume()).isEmpty();
            assertThat(c.pausedPartitions()).isEmpty();
        }

        @Test
        @DisplayName("finished records above an unfinished one still count as held")
        void finishedAboveGapStillHeld() {
            var c = builder(OrderingMode.UNORDERED).maxInFlight(3).resumeThreshold(0).build();
            submit(c, P0, 0, 1, 2);
            succeed(P0, 1, 2);
            assertThat(c.heldRecords()).isEqualTo(3);
            assertThat(c.partitionsToPause()).containsExactly(P0);
            succeed(P0, 0);
            assertThat(c.partitionsToResume()).containsExactly(P0);
        }

        @Test
        @DisplayName("a partition assigned while paused is paused too")
        void newPartitionPausedToo() {
            var c = builder(OrderingMode.UNORDERED).maxInFlight(2).build();
            submit(c, P0, 0, 1);
            assertThat(c.partitionsToPause()).containsExactly(P0);
            c.onPartitionsAssigned(List.of(P1));
            assertThat(c.partitionsToPause()).containsExactly(P1);
        }

        @Test
        @DisplayName("revoking the partition that holds the records ends the pause")
        void revocationEndsPause() {
            var c = builder(OrderingMode.UNORDERED).maxInFlight(2).build();
            c.onPartitionsAssigned(List.of(P1));
            submit(c, P0, 0, 1);
            assertThat(c.partitionsToPause()).containsExactlyInAnyOrder(P1, P0);
            c.onPartitionsRevoked(List.of(P0), Duration.ZERO);
            assertThat(c.heldRecords()).isZero();
            assertThat(c.partitionsToResume()).containsExactly(P1);
        }
    }

    @Nested
    @DisplayName("rebalances")
    class Rebalances {

        @Test
        @DisplayName("revocation stops queued records and returns the contiguous finished offset")
        void revocationReturnsFinalOffsets() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1, 2, 3, 4);
            succeed(P0, 0, 1);
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ZERO)).isEqualTo(Map.of(P0, 2L));
            succeed(P0, 2);
            assertThat(processor.startedOffsets(P0)).as("3 and 4 are left for the next owner")
                    .containsExactly(0L, 1L, 2L);
            assertThat(c.stats(P0)).isNull();
            assertThat(c.runningHandlers()).as("the late completion still returned its permit").isZero();
        }

        @Test
        @DisplayName("revocation waits for running records, within maxWait")
        void revocationWaitsForRunning() throws Exception {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2);
            succeed(P0, 0, 2);
            CountDownLatch waiting = new CountDownLatch(1);
            Thread completer = new Thread(() -> {
                try {
                    waiting.await();
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                processor.succeed(P0, 1);
            });
            completer.start();
            waiting.countDown();
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ofSeconds(30))).isEqualTo(Map.of(P0, 3L));
            completer.join();
        }

        @Test
        @DisplayName("while revocation waits, a finished record's successor is not started")
        void noSuccessorWhileRevoking() throws Exception {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1, 2);
            Thread completer = new Thread(() -> {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                processor.succeed(P0, 0);
            });
            completer.start();
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ofSeconds(30))).isEqualTo(Map.of(P0, 1L));
            completer.join();
            assertThat(executor.pending()).isZero();
            assertThat(processor.startedOffsets(P0)).containsExactly(0L);
        }

        @Test
        @DisplayName("revocation gives up on records still running after maxWait")
        void revocationGivesUp() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2);
            succeed(P0, 0, 2);
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ofMillis(20))).isEqualTo(Map.of(P0, 1L));
        }

        @Test
        @DisplayName("a failed record retried during revocation is left for the next owner")
        void retryDuringRevocation() throws Exception {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            succeed(P0, 1);
            fail(P0, 0);
            InFlightRecord<TestRecord> failed = failures.only();
            Thread retrier = new Thread(() -> {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                assertThat(c.retry(failed)).isFalse();
            });
            retrier.start();
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ofSeconds(30)))
                    .as("0 was given up, so nothing moved").isEmpty();
            retrier.join();
        }

        @Test
        @DisplayName("whileDraining runs after dispatch stopped and before the wait: a failed record retried there is given up, and the revocation does not wait for it")
        void retryWhileDraining() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 0, 1, 2);
            succeed(P0, 0);
            executor.runAll();
            fail(P0, 1);
            InFlightRecord<TestRecord> failed = failures.only();
            List<Boolean> retried = new ArrayList<>();
            long before = System.nanoTime();
            Map<PartitionId, Long> offsets = c.onPartitionsRevoked(List.of(P0), Duration.ofSeconds(30), () -> retried.add(c.retry(failed)));
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before);
            assertThat(retried).as("retry from whileDraining").containsExactly(false);
            assertThat(offsets).as("0 finished, 1 given up").isEqualTo(Map.of(P0, 1L));
            assertThat(waitedMillis).as("revocation with its only unresolved record given up, maxWait 30 s").isLessThan(10_000);
            executor.runAll();
            assertThat(processor.startedOffsets(P0)).as("nothing dispatched after the revocation began").containsExactly(0L, 1L);
        }

        @Test
        @DisplayName("a whileDraining that throws does not stop the revocation")
        void whileDrainingThrows() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            succeed(P0, 0, 1);
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ZERO, () -> {
                throw new IllegalStateException("boom");
            })).isEqualTo(Map.of(P0, 2L));
            assertThat(c.heldRecords()).isZero();
        }

        @Test
        @DisplayName("a lost partition commits nothing and drops its records")
        void lostCommitsNothing() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            succeed(P0, 0);
            c.onPartitionsLost(List.of(P0));
            assertThat(c.committableOffsets()).isEmpty();
            assertThat(c.heldRecords()).isZero();
            succeed(P0, 1);
            assertThat(c.committableOffsets()).isEmpty();
        }

        @Test
        @DisplayName("a completion from a previous assignment does not touch the partition's new assignment")
        void staleCompletionIgnored() {
            var c = coordinator(OrderingMode.PARTITION);
            submit(c, P0, 10, 11);
            fail(P0, 10);
            InFlightRecord<TestRecord> staleFailure = failures.only();
            c.retry(staleFailure);
            executor.runAll();
            c.onPartitionsRevoked(List.of(P0), Duration.ZERO);

            c.onPartitionsAssigned(List.of(P0));
            long newGeneration = c.stats(P0).generation();
            assertThat(newGeneration).isGreaterThan(staleFailure.generation());
            // The old attempt of 10 is still running; the new owner-side redelivery waits for the
            // test to finish the old one, so submit different offsets to keep them apart.
            submit(c, P0, 20, 21);
            succeed(P0, 10);
            assertThat(c.stats(P0).committableOffset()).isEqualTo(20);
            assertThat(c.stats(P0).running()).isEqualTo(1);
            assertThat(c.markDone(staleFailure)).isFalse();
            assertThat(c.retry(staleFailure)).isFalse();
            succeed(P0, 20);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 21L));
        }

        @Test
        @DisplayName("a partition assigned again starts from the redelivered offsets")
        void reassignmentStartsFresh() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1, 2);
            succeed(P0, 0);
            assertThat(c.onPartitionsRevoked(List.of(P0), Duration.ZERO)).isEqualTo(Map.of(P0, 1L));
            succeed(P0, 1, 2);
            submit(c, P0, 1, 2);
            assertThat(processor.runningOffsets(P0)).containsExactly(1L, 2L);
            succeed(P0, 1, 2);
            assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 3L));
        }

        @Test
        @DisplayName("close returns the final offsets and refuses further records")
        void closeReturnsFinalOffsets() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 0, 1);
            submit(c, P1, 5);
            succeed(P0, 0);
            succeed(P1, 5);
            assertThat(c.close(Duration.ZERO)).isEqualTo(Map.of(P0, 1L, P1, 6L));
            assertThat(c.close(Duration.ZERO)).isEmpty();
            assertThatThrownBy(() -> c.submit(P0, 2, null, new TestRecord(P0, 2, null)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    @Nested
    @DisplayName("arguments")
    class Arguments {

        @Test
        @DisplayName("offsets must increase within a partition")
        void offsetsIncrease() {
            var c = coordinator(OrderingMode.UNORDERED);
            submit(c, P0, 5);
            assertThatThrownBy(() -> c.submit(P0, 5, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("above the last submitted offset 5");
            assertThatThrownBy(() -> c.submit(P1, -1, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("between 0 and");
        }

        @Test
        @DisplayName("builder settings outside their range are rejected with the allowed range")
        void builderRanges() {
            var b = builder(OrderingMode.KEY);
            assertThatThrownBy(() -> b.maxConcurrency(0)).hasMessageContaining("between 1 and");
            assertThatThrownBy(() -> b.maxInFlight(0)).hasMessageContaining("between 1 and");
            assertThatThrownBy(() -> b.commitInterval(Duration.ofSeconds(-1))).hasMessageContaining("zero or positive");
            assertThatThrownBy(() -> b.maxInFlight(10).resumeThreshold(10).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxInFlight - 1 = 9");
            assertThatThrownBy(() -> PartitionId.of("orders", -1)).hasMessageContaining("between 0 and");
            assertThatThrownBy(() -> PartitionId.of(" ", 0)).hasMessageContaining("non-blank");
        }
    }

    @Nested
    @DisplayName("threads")
    class Threads {

        @Test
        @DisplayName("async handlers run without holding a thread until their stage completes")
        void asyncHandlersHoldNoThread() throws Exception {
            var pool = HandlerExecutors.platformThreads(1, "async-test-");
            try {
                var stages = new java.util.concurrent.ConcurrentHashMap<Long, CompletableFuture<Void>>();
                var started = new CountDownLatch(100);
                var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                    var stage = new CompletableFuture<Void>();
                    stages.put(r.offset(), stage);
                    started.countDown();
                    return stage;
                }, failures).ordering(OrderingMode.UNORDERED).maxConcurrency(100).executor(pool).build();
                for (long offset = 0; offset < 100; offset++) {
                    c.submit(P0, offset, null, new TestRecord(P0, offset, null));
                }
                assertThat(started.await(30, TimeUnit.SECONDS)).as("100 records in flight on one thread").isTrue();
                stages.values().forEach(s -> s.complete(null));
                // The last stage's callback may attach (and so run) on the pool thread just after this.
                awaitUntil(() -> c.runningHandlers() == 0);
                assertThat(c.committableOffsets()).isEqualTo(Map.of(P0, 100L));
            } finally {
                pool.shutdownNow();
            }
        }

        @Test
        @DisplayName("HandlerExecutors uses virtual threads on Java 21+ and a bounded platform pool before")
        void handlerExecutors() throws Exception {
            var executor = HandlerExecutors.create(3, "handler-test-");
            try {
                var name = new CompletableFuture<String>();
                var virtual = new CompletableFuture<Boolean>();
                executor.execute(() -> {
                    name.complete(Thread.currentThread().getName());
                    virtual.complete(!Thread.currentThread().getClass().getName().equals(Thread.class.getName())
                            && Thread.currentThread().getClass().getSimpleName().contains("Virtual"));
                });
                assertThat(name.get(30, TimeUnit.SECONDS)).startsWith("handler-test-");
                boolean expectVirtual = Runtime.version().feature() >= 21;
                assertThat(HandlerExecutors.virtualThreadsAvailable()).isEqualTo(expectVirtual);
                assertThat(virtual.get()).isEqualTo(expectVirtual);
                if (!expectVirtual) {
                    assertThat(executor).isInstanceOfSatisfying(PlatformThreadPool.class,
                            pool -> assertThat(pool.maximumPoolSize()).isEqualTo(3));
                }
            } finally {
                executor.shutdownNow();
            }
            assertThatThrownBy(() -> HandlerExecutors.create(0, "x")).hasMessageContaining("between 1 and");
        }

        @Test
        @DisplayName("records completing on many threads keep KEY order and reach the right watermark")
        void concurrentCompletions() throws Exception {
            var pool = HandlerExecutors.platformThreads(4, "concurrent-test-");
            try {
                int keys = 8;
                int records = 20_000;
                var active = new java.util.concurrent.atomic.AtomicIntegerArray(keys);
                var lastOffset = new java.util.concurrent.atomic.AtomicLongArray(keys);
                for (int k = 0; k < keys; k++) {
                    lastOffset.set(k, -1);
                }
                var violations = new java.util.concurrent.atomic.AtomicInteger();
                var finished = new CountDownLatch(records);
                var c = OffsetCommitCoordinator.<TestRecord>builder(r -> {
                    int k = Integer.parseInt(r.key());
                    if (active.incrementAndGet(k) != 1 || lastOffset.getAndSet(k, r.offset()) >= r.offset()) {
                        violations.incrementAndGet();
                    }
                    active.decrementAndGet(k);
                    finished.countDown();
                    return CompletableFuture.completedFuture(null);
                }, failures).ordering(OrderingMode.KEY).maxConcurrency(4).maxInFlight(records).executor(pool).build();
                for (int offset = 0; offset < records; offset++) {
                    String key = Integer.toString(offset % keys);
                    c.submit(P0, offset, key, new TestRecord(P0, offset, key));
                }
                assertThat(finished.await(30, TimeUnit.SECONDS)).isTrue();
                assertThat(violations.get()).isZero();
                assertThat(c.close(Duration.ofSeconds(30))).isEqualTo(Map.of(P0, (long) records));
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static void awaitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached within 30 seconds");
            }
            Thread.sleep(1);
        }
    }

    @Test
    @DisplayName("statistics show committed, committable, held, queued, running and failed records")
    void statistics() {
        var c = coordinator(OrderingMode.KEY);
        submit(c, P0, 0, "a");
        submit(c, P0, 1, "a");
        submit(c, P0, 2, "b");
        submit(c, P0, 3, "c");
        fail(P0, 2);
        succeed(P0, 0);
        c.onCommitted(c.committableOffsets());
        PartitionStats stats = c.stats(P0);
        assertThat(stats).isEqualTo(new PartitionStats(P0, stats.generation(), 1, 1, 3, 0, 2, 1));
        assertThat(c.stats()).containsOnlyKeys(P0);
        assertThat(c.orderingMode()).isEqualTo(OrderingMode.KEY);
        assertThat(Set.copyOf(c.stats().values())).containsExactly(stats);
    }
}
