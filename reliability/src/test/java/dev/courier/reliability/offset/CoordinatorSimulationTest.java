package dev.courier.reliability.offset;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Drives the coordinator like a poll loop would, with a seeded random schedule: polls with offset
 * gaps, handlers started and finished in random order (a third of them synchronously, so worker
 * loops also finish records and take the next one in one step), failures resolved later by retry or
 * markDone, commits acknowledged late, out of order or not at all, and partitions revoked, lost
 * and assigned again while handlers of the old assignment are still running. After every step it
 * checks the coordinator against a straightforward model.
 *
 * <p>The held count may exceed maxInFlight by at most one poll batch minus one: the simulated poll
 * loop asks for pauses before every poll, as the coordinator's contract requires.
 */
class CoordinatorSimulationTest {

    private static final int BATCH = 5;
    private static final String[] KEYS = {"a", "b", "c", null};

    @Property(tries = 250)
    @Label("every invariant holds after every step of a random poll-loop schedule")
    void invariantsHold(
            @ForAll OrderingMode mode,
            @ForAll @IntRange(min = 1, max = 6) int maxConcurrency,
            @ForAll @IntRange(min = 1, max = 40) int maxInFlight,
            @ForAll long seed) {
        new Simulation(mode, maxConcurrency, maxInFlight, new Random(seed)).run(300);
    }

    /** The payload; the generation is the coordinator's assignment generation at submit time. */
    record SimRecord(PartitionId partition, long generation, long offset, String key) {
    }

    /** A handler the simulation has started and not yet finished. */
    record Run(SimRecord record, CompletableFuture<Void> future) {
    }

    /** A commit handed out and not yet acknowledged. */
    record PendingCommit(PartitionId partition, long generation, long offset) {
    }

    /** What the model knows about the current assignment of one partition. */
    static final class Assignment {
        final long generation;
        final Map<Long, String> keys = new LinkedHashMap<>();
        final Set<Long> finished = new HashSet<>();
        /** The records per lane whose handler is running or failed and unresolved. */
        final Map<Object, Long> laneOccupant = new HashMap<>();
        final Map<Object, Long> laneLastStarted = new HashMap<>();
        final Set<Long> everStarted = new HashSet<>();
        long lastHandedOut = -1;
        long lastConfirmedSeen = -1;
        /** The latest hand-out failed to commit, so the coordinator offers it again. */
        boolean reoffer;

        Assignment(long generation) {
            this.generation = generation;
        }

        long watermark() {
            long last = -1;
            for (long offset : keys.keySet()) {
                if (!finished.contains(offset)) {
                    return offset;
                }
                last = offset;
            }
            return last < 0 ? -1 : last + 1;
        }

        int held() {
            long watermark = watermark();
            return (int) keys.keySet().stream().filter(o -> o >= watermark).count();
        }
    }

    static final class Simulation {
        private final OrderingMode mode;
        private final int maxConcurrency;
        private final int maxInFlight;
        private final int resumeThreshold;
        private final Random random;
        private final List<PartitionId> partitions =
                List.of(PartitionId.of("sim", 0), PartitionId.of("sim", 1), PartitionId.of("sim", 2));
        private final Map<PartitionId, Assignment> assigned = new HashMap<>();
        private final Map<PartitionId, Long> nextFetch = new HashMap<>();
        private final Map<PartitionId, Long> brokerCommitted = new HashMap<>();
        private final Set<PartitionId> paused = new HashSet<>();
        /** Synchronized: the coordinator's watchdog thread may start a loop while one runs here. */
        private final List<Runnable> tasks = java.util.Collections.synchronizedList(new ArrayList<>());
        private final List<Run> running = new ArrayList<>();
        private final List<InFlightRecord<SimRecord>> failures = new ArrayList<>();
        private final List<PendingCommit> pendingCommits = new ArrayList<>();
        private final OffsetCommitCoordinator<SimRecord> coordinator;
        private long now;
        private int step;

        Simulation(OrderingMode mode, int maxConcurrency, int maxInFlight, Random random) {
            this.mode = mode;
            this.maxConcurrency = maxConcurrency;
            this.maxInFlight = maxInFlight;
            this.resumeThreshold = maxInFlight / 2;
            this.random = random;
            Executor executor = tasks::add;
            this.coordinator = OffsetCommitCoordinator.builder(this::process, this::failed)
                    .ordering(mode)
                    .maxConcurrency(maxConcurrency)
                    .maxInFlight(maxInFlight)
                    .resumeThreshold(resumeThreshold)
                    .commitInterval(Duration.ofMillis(10))
                    .initialPartitionCapacity(2)
                    .executor(executor)
                    .build();
            for (PartitionId partition : partitions) {
                nextFetch.put(partition, 0L);
                brokerCommitted.put(partition, 0L);
                assign(partition);
            }
        }

        void run(int steps) {
            for (step = 0; step < steps; step++) {
                int choice = random.nextInt(100);
                if (choice < 25) {
                    poll();
                } else if (choice < 45) {
                    runTask();
                } else if (choice < 65) {
                    completeOne();
                } else if (choice < 75) {
                    resolveOne();
                } else if (choice < 83) {
                    commit();
                } else if (choice < 91) {
                    acknowledgeCommit();
                } else if (choice < 94) {
                    revoke();
                } else if (choice < 96) {
                    lose();
                } else {
                    assignOne();
                }
                check();
            }
            quiesce();
        }

        // ------------------------------------------------------------ handler side

        private CompletionStage<?> process(SimRecord record) {
            Assignment assignment = assigned.get(record.partition());
            if (assignment != null && assignment.generation == record.generation()) {
                Object lane = lane(record);
                if (lane != null) {
                    Long occupant = assignment.laneOccupant.get(lane);
                    assertThat(occupant).as("step %d: %s started while %s holds its lane", step, record, occupant)
                            .isNull();
                    Long lastStarted = assignment.laneLastStarted.get(lane);
                    if (assignment.everStarted.contains(record.offset())) {
                        assertThat(lastStarted).as("a retry re-runs the lane's latest record").isEqualTo(record.offset());
                    } else if (lastStarted != null) {
                        assertThat(record.offset()).as("step %d: lane %s starts in offset order", step, lane)
                                .isGreaterThan(lastStarted);
                    }
                    assignment.laneOccupant.put(lane, record.offset());
                    assignment.laneLastStarted.put(lane, record.offset());
                }
                assignment.everStarted.add(record.offset());
            }
            if (random.nextInt(3) == 0) {
                // a synchronous handler: done when process returns, so the worker loop finishes it and
                // may take its partition's next record in the same step
                if (assignment != null && assignment.generation == record.generation()) {
                    assignment.finished.add(record.offset());
                    Object lane = lane(record);
                    if (lane != null) {
                        assignment.laneOccupant.remove(lane);
                    }
                }
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> future = new CompletableFuture<>();
            running.add(new Run(record, future));
            return future;
        }

        private void failed(InFlightRecord<SimRecord> record, Throwable cause) {
            Assignment assignment = assigned.get(record.partition());
            assertThat(assignment).as("failure reported for an unassigned partition").isNotNull();
            assertThat(record.generation()).as("failure reported for a stale generation").isEqualTo(assignment.generation);
            failures.add(record);
        }

        private Object lane(SimRecord record) {
            switch (mode) {
                case PARTITION:
                    return "partition";
                case KEY:
                    return Objects.requireNonNullElse(record.key(), "<null>");
                default:
                    return null;
            }
        }

        // ------------------------------------------------------------ steps

        private void poll() {
            applyFlowControl();
            List<PartitionId> candidates = new ArrayList<>();
            for (PartitionId partition : partitions) {
                if (assigned.containsKey(partition) && !paused.contains(partition)) {
                    candidates.add(partition);
                }
            }
            if (candidates.isEmpty()) {
                return;
            }
            PartitionId partition = candidates.get(random.nextInt(candidates.size()));
            Assignment assignment = assigned.get(partition);
            int count = 1 + random.nextInt(BATCH);
            List<SimRecord> batch = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long offset = nextFetch.get(partition);
                if (random.nextInt(5) == 0) {
                    offset += 1 + random.nextInt(3); // compaction or transaction markers
                }
                nextFetch.put(partition, offset + 1);
                String key = KEYS[random.nextInt(KEYS.length)];
                assignment.keys.put(offset, key);
                batch.add(new SimRecord(partition, assignment.generation, offset, key));
            }
            if (random.nextBoolean()) {
                // one hand-over: the batch waits in the partition's inbox until a worker loop admits it
                coordinator.submitAll(partition, batch, SimRecord::offset, SimRecord::key, r -> r);
            } else {
                for (SimRecord r : batch) {
                    coordinator.submit(partition, r.offset(), r.key(), r);
                }
            }
            assertThat(coordinator.heldRecords()).as("held records stay within maxInFlight plus one batch")
                    .isLessThanOrEqualTo(maxInFlight + BATCH - 1);
        }

        private void applyFlowControl() {
            Set<PartitionId> toPause = coordinator.partitionsToPause();
            for (PartitionId partition : toPause) {
                assertThat(paused.add(partition)).as("%s paused twice", partition).isTrue();
            }
            Set<PartitionId> toResume = coordinator.partitionsToResume();
            for (PartitionId partition : toResume) {
                assertThat(paused.remove(partition)).as("%s resumed while not paused", partition).isTrue();
            }
            if (coordinator.heldRecords() <= resumeThreshold) {
                assertThat(paused).as("room below the resume threshold means nothing stays paused").isEmpty();
            }
        }

        private void runTask() {
            Runnable task = null;
            synchronized (tasks) {
                if (!tasks.isEmpty()) {
                    task = tasks.remove(random.nextInt(tasks.size()));
                }
            }
            if (task != null) {
                task.run();
            }
        }

        private void completeOne() {
            if (running.isEmpty()) {
                return;
            }
            Run run = running.remove(random.nextInt(running.size()));
            SimRecord record = run.record();
            Assignment assignment = current(record);
            boolean success = random.nextInt(4) != 0;
            if (assignment != null) {
                Object lane = lane(record);
                if (success) {
                    assignment.finished.add(record.offset());
                    if (lane != null) {
                        assignment.laneOccupant.remove(lane);
                    }
                }
                // A failure keeps the lane occupied until resolved.
            }
            if (success) {
                run.future().complete(null);
            } else {
                run.future().completeExceptionally(new IllegalStateException("simulated failure"));
            }
        }

        private void resolveOne() {
            if (failures.isEmpty()) {
                return;
            }
            InFlightRecord<SimRecord> record = failures.remove(random.nextInt(failures.size()));
            Assignment assignment = current(record.record());
            boolean markDone = random.nextBoolean();
            boolean applied = markDone ? coordinator.markDone(record) : coordinator.retry(record);
            assertThat(applied).as("step %d: resolving %s applies exactly when its assignment is current", step, record)
                    .isEqualTo(assignment != null);
            if (assignment != null) {
                Object lane = lane(record.record());
                if (lane != null) {
                    assignment.laneOccupant.remove(lane);
                }
                if (markDone) {
                    assignment.finished.add(record.offset());
                }
            }
        }

        private void commit() {
            now += random.nextInt(15) * 1_000_000L;
            Map<PartitionId, Long> commits =
                    random.nextBoolean() ? coordinator.pollCommits(now) : coordinator.committableOffsets();
            for (Map.Entry<PartitionId, Long> commit : commits.entrySet()) {
                Assignment assignment = assigned.get(commit.getKey());
                assertThat(assignment).isNotNull();
                long offset = commit.getValue();
                assertThat(offset).as("step %d: commit for %s is the first unfinished offset", step, commit.getKey())
                        .isEqualTo(assignment.watermark());
                if (assignment.reoffer) {
                    assertThat(offset).as("a failed commit is offered again or overtaken")
                            .isGreaterThanOrEqualTo(assignment.lastHandedOut);
                } else {
                    assertThat(offset).as("commits never go backwards nor repeat").isGreaterThan(assignment.lastHandedOut);
                }
                assignment.reoffer = false;
                assignment.lastHandedOut = offset;
                pendingCommits.add(new PendingCommit(commit.getKey(), assignment.generation, offset));
            }
        }

        private void acknowledgeCommit() {
            if (pendingCommits.isEmpty()) {
                return;
            }
            PendingCommit commit = pendingCommits.remove(random.nextInt(pendingCommits.size()));
            if (random.nextInt(5) == 0) {
                Assignment assignment = assigned.get(commit.partition());
                // The callback names no generation, so a late failure from an earlier assignment
                // can also trigger a (harmless) repeat of the same offset.
                if (assignment != null && assignment.lastHandedOut == commit.offset()) {
                    assignment.reoffer = true;
                }
                coordinator.onCommitFailed(commit.partition(), commit.offset());
            } else {
                brokerCommitted.merge(commit.partition(), commit.offset(), Math::max);
                coordinator.onCommitted(commit.partition(), commit.offset());
            }
        }

        private void revoke() {
            PartitionId partition = randomAssigned();
            if (partition == null) {
                return;
            }
            Assignment assignment = assigned.remove(partition);
            Map<PartitionId, Long> finalOffsets = coordinator.onPartitionsRevoked(List.of(partition), Duration.ZERO);
            long watermark = assignment.watermark();
            if (finalOffsets.containsKey(partition)) {
                assertThat(finalOffsets.get(partition)).as("final commit on revoke").isEqualTo(watermark);
                brokerCommitted.merge(partition, watermark, Math::max);
            } else {
                assertThat(watermark).as("no final commit only when nothing progressed")
                        .isLessThanOrEqualTo(Math.max(assignment.lastConfirmedSeen,
                                assignment.keys.keySet().stream().findFirst().orElse(-1L)));
            }
            paused.remove(partition);
        }

        private void lose() {
            PartitionId partition = randomAssigned();
            if (partition != null) {
                assigned.remove(partition);
                coordinator.onPartitionsLost(List.of(partition));
                paused.remove(partition);
            }
        }

        private void assignOne() {
            List<PartitionId> free = partitions.stream().filter(p -> !assigned.containsKey(p)).toList();
            if (!free.isEmpty()) {
                assign(free.get(random.nextInt(free.size())));
            }
        }

        private void assign(PartitionId partition) {
            coordinator.onPartitionsAssigned(List.of(partition));
            assigned.put(partition, new Assignment(coordinator.stats(partition).generation()));
            // The new owner reads from the committed position: everything after it is redelivered.
            nextFetch.put(partition, brokerCommitted.get(partition));
        }

        // ------------------------------------------------------------ checks

        private void check() {
            long heldTotal = 0;
            for (Map.Entry<PartitionId, Assignment> entry : assigned.entrySet()) {
                PartitionStats stats = coordinator.stats(entry.getKey());
                Assignment assignment = entry.getValue();
                assertThat(stats).as("assigned partition has statistics").isNotNull();
                assertThat(stats.generation()).isEqualTo(assignment.generation);
                long watermark = assignment.watermark();
                assertThat(stats.committableOffset()).as("step %d: watermark of %s", step, entry.getKey())
                        .isEqualTo(watermark);
                assertThat(stats.held()).as("step %d: held records of %s", step, entry.getKey())
                        .isEqualTo(assignment.held());
                assertThat(stats.committedOffset()).as("confirmed commits never pass the first unfinished record")
                        .isLessThanOrEqualTo(Math.max(watermark, -1));
                assertThat(stats.committedOffset()).as("confirmed commits never go backwards")
                        .isGreaterThanOrEqualTo(assignment.lastConfirmedSeen);
                assignment.lastConfirmedSeen = stats.committedOffset();
                if (mode == OrderingMode.PARTITION) {
                    assertThat(stats.running() + stats.failed()).as("PARTITION: at most one record at a time")
                            .isLessThanOrEqualTo(1);
                }
                heldTotal += stats.held();
            }
            assertThat(coordinator.heldRecords()).as("held total").isEqualTo(heldTotal);
            assertThat(coordinator.runningHandlers()).as("permits in use = queued tasks + running handlers")
                    .isEqualTo(tasks.size() + running.size())
                    .isLessThanOrEqualTo(maxConcurrency);
        }

        /** Lets everything finish, then checks that every pause was resumed. */
        private void quiesce() {
            for (int round = 0; round < 10_000 && !(tasks.isEmpty() && running.isEmpty() && failures.isEmpty()); round++) {
                while (!tasks.isEmpty()) {
                    tasks.remove(0).run();
                }
                while (!running.isEmpty()) {
                    Run run = running.remove(0);
                    Assignment assignment = current(run.record());
                    if (assignment != null) {
                        assignment.finished.add(run.record().offset());
                        Object lane = lane(run.record());
                        if (lane != null) {
                            assignment.laneOccupant.remove(lane);
                        }
                    }
                    run.future().complete(null);
                }
                while (!failures.isEmpty()) {
                    InFlightRecord<SimRecord> record = failures.remove(0);
                    Assignment assignment = current(record.record());
                    assertThat(coordinator.markDone(record)).isEqualTo(assignment != null);
                    if (assignment != null) {
                        assignment.finished.add(record.offset());
                        Object lane = lane(record.record());
                        if (lane != null) {
                            assignment.laneOccupant.remove(lane);
                        }
                    }
                }
                check();
            }
            assertThat(coordinator.heldRecords()).as("everything finished, nothing held").isZero();
            applyFlowControl();
            assertThat(paused).as("every pause was followed by a resume").isEmpty();
            for (Map.Entry<PartitionId, Assignment> entry : assigned.entrySet()) {
                long last = entry.getValue().keys.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
                assertThat(coordinator.stats(entry.getKey()).committableOffset())
                        .isEqualTo(last < 0 ? -1 : last + 1);
            }
        }

        private Assignment current(SimRecord record) {
            Assignment assignment = assigned.get(record.partition());
            return assignment != null && assignment.generation == record.generation() ? assignment : null;
        }

        private PartitionId randomAssigned() {
            List<PartitionId> candidates = partitions.stream().filter(assigned::containsKey).toList();
            return candidates.isEmpty() ? null : candidates.get(random.nextInt(candidates.size()));
        }
    }
}
