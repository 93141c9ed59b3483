package dev.courier.kafka;

import dev.courier.BrokerUnavailableException;
import dev.courier.CourierConfig;
import dev.courier.DeliveryMetadata;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.reliability.offset.InFlightRecord;
import dev.courier.reliability.offset.OffsetCommitCoordinator;
import dev.courier.reliability.offset.OrderingMode;
import dev.courier.reliability.offset.PartitionId;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import dev.courier.spi.InboundDelivery;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.StaleMemberEpochException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One subscription: a {@link KafkaConsumer} owned by its poll thread, feeding an
 * {@link OffsetCommitCoordinator} that runs handlers in parallel (per key or per partition in
 * order) and commits only the contiguous finished prefix of each partition.
 *
 * <p>Settlement: ack and reject finish the record; nack keeps it unfinished (holding its key and
 * the commit watermark) and runs it again after the delay, in process. A consumer that dies
 * meanwhile leaves the offset uncommitted, so the next owner gets the record again.
 *
 * <p>Retry topics: a group subscription also consumes {@code <topic>.<group>.retry}, with a second
 * consumer of the same group subscribed to the retry topic only, so the group balances the main
 * topic's partitions among the main consumers alone. Both consumers are driven by the one poll
 * thread (the coordinator's submit, assignment and pause methods belong to a single thread); each
 * commits and pauses its own partitions. A nack with
 * a delay of at least {@link KafkaSettings#RETRY_TOPIC_THRESHOLD} copies the record there (same key,
 * bytes and headers, plus {@link HeaderNames#ATTEMPT} and the due time {@link HeaderNames#RETRY_AT})
 * and finishes the original once the broker acknowledged the copy, so the commit advances and the key
 * is free. A retry record that is not due yet is not submitted: its partition is rewound to it and
 * paused until the due time (retry records sit in due order per partition, so nothing behind it is
 * due earlier), other partitions go on. It is delivered as a message of the subscription's topic with
 * the attempt count from its header.
 *
 * <p>Close: records not started yet, and those parked behind a {@link #pause()}, are not run; they
 * stay uncommitted for the next owner, so a handler that gives deliveries back (nack without delay)
 * before closing does not keep getting them until the drain timeout.
 *
 * <p>The poll thread keeps polling while partitions are paused (back-pressure or
 * {@link #pause()}), so a slow handler never costs the group membership.
 */
final class KafkaSubscription implements BindingSubscription {

    private static final Logger log = LoggerFactory.getLogger(KafkaSubscription.class);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration PAUSED_POLL = Duration.ofMillis(2);
    /**
     * How often the poll loop polls the retry consumer while that returns nothing. Records reach the
     * retry topic only for delays of at least {@code retry-topic.threshold} (seconds), so this much
     * later does not matter; while it returns records it is polled on every turn of the loop.
     */
    private static final long RETRY_POLL_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /**
     * A retry record's original timestamp (epoch ms), given back to the message when it is delivered. The
     * copy itself is stamped when it is made: an old timestamp on it (a replayed record) would let the
     * retry topic's time-based retention delete it before it is due.
     */
    static final String RETRY_TIMESTAMP = "courier-retry-timestamp";
    /** While closing, before the coordinator gives records up, a failed record is retried this often (not in a busy loop). */
    private static final Duration CLOSING_RETRY = Duration.ofMillis(10);
    /** How long a member's first commit of its group's start is tried again while its epoch is stale, and how often. */
    private static final Duration STALE_EPOCH_WAIT = Duration.ofSeconds(10);
    private static final Duration STALE_EPOCH_RETRY = Duration.ofMillis(100);

    private final Subscribe spec;
    private final DeliveryProcessor processor;
    private final KafkaSettings settings;
    private final BindingContext context;
    private final KafkaConsumer<String, byte[]> consumer;
    /** The retry topic's own consumer (same group), or null when nacks wait in process only. */
    private final KafkaConsumer<String, byte[]> retryConsumer;
    private final OffsetCommitCoordinator<KafkaRecord> coordinator;
    private final CountDownLatch firstAssignment = new CountDownLatch(1);
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final Thread thread;
    private volatile boolean running = true;
    /** Set once the poll thread closes the coordinator: from then on a retry gives the record up at once. */
    private volatile boolean coordinatorClosing;
    private volatile boolean userPaused;
    /** Guards changes of {@link #pausedGate}; records read it without the lock, once each. */
    private final Object pauseLock = new Object();
    private volatile CompletableFuture<Void> pausedGate;
    private volatile Duration drainTimeout = Duration.ZERO;
    /**
     * Delayed in-process redeliveries not run yet: close() and the revocation of their partition run them at once, so
     * their records are given up (for the next owner) rather than waited for. Guarded by itself.
     */
    private final Set<PendingRetry> pendingRetries = new HashSet<>();
    /** Partitions whose revocation is waiting for their records; guarded by {@link #pendingRetries}. */
    private final Set<PartitionId> revoking = new HashSet<>();
    private volatile RuntimeException startFailure;
    private final Set<TopicPartition> assigned = new HashSet<>();
    /** Poll thread only: ids of the partitions seen, so a poll allocates none. */
    private final Map<TopicPartition, PartitionId> partitionIds = new HashMap<>();
    private final boolean broadcast;
    private final String groupId;
    /** Deletes a consumer group from the broker, best effort; run for a broadcast subscription's own group once it closed. */
    private final Consumer<String> forgetGroup;
    /** The retry topic, or null when nacks wait in process only. */
    private final String retryTopic;
    private final Function<ProducerRecord<String, byte[]>, CompletableFuture<Void>> retrySender;
    /** Retry partitions rewound to a record that is not due yet, with its due time (epoch ms). Poll thread only. */
    private final Map<TopicPartition, Long> waitingRetries = new HashMap<>();
    /** When the poll loop next polls the retry consumer ({@link System#nanoTime()}). Poll thread only. */
    private long nextRetryPoll;
    /** When the subscription was made (epoch ms): where partitions added to the topic later start, see {@link #startAddedPartitions}. */
    private final long subscribedAt = System.currentTimeMillis();
    /** Whether new partitions start at their end (LATEST, or a broadcast's default start) rather than at their beginning. */
    private final boolean startsAtLatest;
    /** Set once this member got its first assignment (a broadcast's first non-empty one). Poll thread only. */
    private boolean initiallyAssigned;

    /** A polled record and how often it was delivered in this consumer. */
    static final class KafkaRecord {
        final ConsumerRecord<String, byte[]> record;
        /**
         * A plain field (a volatile write per record is a full fence): it is set before the record
         * is handed to the coordinator (submit, or {@code retry}, which takes the partition's lock),
         * and read after a loop took the record from the coordinator under that lock.
         */
        int attempt;

        KafkaRecord(ConsumerRecord<String, byte[]> record, int attempt) {
            this.record = record;
            this.attempt = attempt;
        }
    }

    /** A nack travels to the failure handler as this signal. */
    private static final class Redeliver extends RuntimeException {
        final Duration delay;

        Redeliver(Duration delay) {
            super(null, null, false, false);
            this.delay = delay;
        }
    }

    KafkaSubscription(Subscribe spec, DeliveryProcessor processor, KafkaSettings settings, BindingContext context, String retryTopic,
                      Function<ProducerRecord<String, byte[]>, CompletableFuture<Void>> retrySender, Consumer<String> forgetGroup) {
        this.spec = spec;
        this.retryTopic = retryTopic;
        this.retrySender = retrySender;
        this.processor = processor;
        this.settings = settings;
        this.context = context;
        this.forgetGroup = forgetGroup;
        Map<String, Object> props = new HashMap<>(settings.consumer);
        this.broadcast = spec.group() == null;
        this.groupId = broadcast ? "courier-broadcast-" + UUID.randomUUID() : spec.group();
        props.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        StartPosition start = spec.startFrom();
        String reset = switch (start.kind()) {
            case EARLIEST, SEQUENCE, TIME -> "earliest";
            case LATEST -> "latest";
            case DEFAULT -> broadcast ? "latest" : "earliest";
        };
        props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, reset);
        this.startsAtLatest = "latest".equalsIgnoreCase(String.valueOf(props.get(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG)))
                && (start.kind() == StartPosition.Kind.LATEST || start.kind() == StartPosition.Kind.DEFAULT);
        props.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(Math.min(500, Math.max(10, spec.maxInFlight()))));
        this.consumer = KafkaSettings.client("consumer", props, KafkaConsumer<String, byte[]>::new);
        try {
            this.retryConsumer = retryTopic == null ? null : KafkaSettings.client("consumer", retryProps(props), KafkaConsumer<String, byte[]>::new);
        } catch (RuntimeException e) {
            close(consumer);
            throw e;
        }
        OrderingMode mode = spec.bindingOption(KafkaSubscribeOptions.class).map(KafkaSubscribeOptions::ordering)
                .orElse(spec.ordering() == Ordering.BY_KEY ? OrderingMode.KEY : OrderingMode.UNORDERED);
        OffsetCommitCoordinator.Builder<KafkaRecord> builder = OffsetCommitCoordinator.<KafkaRecord>builder(this::process, this::onFailure)
                .ordering(mode)
                .maxConcurrency(spec.concurrency())
                .maxInFlight(Math.max(settings.maxHeld, Math.max(spec.maxInFlight(), spec.concurrency())))
                .commitInterval(settings.commitInterval)
                .threadNamePrefix("courier-kafka-handler-");
        // The coordinator's own executor: virtual threads on JDK 21+, else a bounded pool of platform threads
        // (also with courier.handler.threads=platform), whose worker loops run record after record without a
        // hand-off. The Courier's shared cached pool would cost a thread wake-up per loop start on JDK 17.
        if ("platform".equals(context.config().get(CourierConfig.HANDLER_THREADS))) {
            builder.platformThreads();
        }
        this.coordinator = builder.build();
        this.thread = new Thread(this::run, "courier-kafka-" + spec.topic() + (broadcast ? "" : "-" + spec.group()));
        this.thread.setDaemon(true);
    }

    /**
     * The retry consumer's properties: the main consumer's, but every retry record is meant to run, so it
     * starts from the earliest uncommitted one whatever the subscription's start position.
     */
    private static Map<String, Object> retryProps(Map<String, Object> main) {
        Map<String, Object> props = new HashMap<>(main);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Object clientId = props.get(ConsumerConfig.CLIENT_ID_CONFIG);
        if (clientId != null) {
            props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId + "-retry");
        }
        return props;
    }

    /** Starts polling and returns once this member got its first assignment (so nothing published afterwards is missed). */
    void start() {
        thread.start();
        try {
            if (!firstAssignment.await(settings.assignTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                close(Duration.ZERO);
                throw new BrokerUnavailableException("no partition assignment for '" + spec.topic() + "' within "
                        + settings.assignTimeout.toMillis() + " ms (" + KafkaSettings.ASSIGN_TIMEOUT + "); is the group coordinator reachable?", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close(Duration.ZERO);
            throw new BrokerUnavailableException("interrupted while subscribing to '" + spec.topic() + "'", e);
        }
        if (startFailure != null) {
            throw startFailure;
        }
    }

    private CompletionStage<?> process(KafkaRecord r) {
        if (!running) {
            return GIVEN_UP; // closing: not run here; it stays uncommitted, so the group's next owner gets it
        }
        CompletableFuture<Void> gate = pausedGate;
        if (gate != null) {
            // records the coordinator had already dispatched wait here until resume(), or until close() opens the gate
            return gate.thenComposeAsync(v -> running ? run(r) : GIVEN_UP, context.handlerExecutor());
        }
        return run(r);
    }

    /** A record the subscription does not run because it is closing. */
    private static final CompletionStage<Void> GIVEN_UP = CompletableFuture.failedFuture(new Redeliver(Duration.ZERO));

    private CompletionStage<Void> run(KafkaRecord r) {
        KafkaDelivery delivery = new KafkaDelivery(r, this);
        processor.process(delivery);
        return delivery;
    }

    private void onFailure(InFlightRecord<KafkaRecord> handle, Throwable cause) {
        Duration delay = cause instanceof Redeliver r ? r.delay : spec.redeliveryDelay();
        if (!(cause instanceof Redeliver)) {
            log.warn("processing {} failed unexpectedly; redelivering", handle, cause);
        }
        Runnable again = () -> {
            // counts on from the record's own attempt, which for a record of the retry topic came from its header
            KafkaRecord r = handle.record();
            r.attempt = r.attempt + 1;
            coordinator.retry(handle);
        };
        if (!running && !coordinatorClosing) {
            // closing, but the coordinator still takes retries: a zero-delay nack (a give-back) would come straight
            // back here again and again, so wait a moment for the close to begin, not the whole delay
            delay = CLOSING_RETRY;
        } else if (!running) {
            delay = Duration.ZERO; // retry() gives the record up at once (uncommitted, for the next owner)
        }
        if (delay.isZero()) {
            again.run();
            return;
        }
        Runnable task = again;
        boolean revokingNow = false;
        if (running) {
            // a real delay: close() or a revocation of its partition runs it at once, so the record is given up rather
            // than waited for; whoever takes it out of the set (the timer, close or the revocation) runs it, once
            PendingRetry pending = new PendingRetry(handle.partition(), again);
            synchronized (pendingRetries) {
                pendingRetries.add(pending);
                revokingNow = revoking.contains(handle.partition());
            }
            task = pending;
        }
        try {
            context.scheduler().schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            task.run(); // the Courier is closing: give it up now rather than never
        }
        if (task != again && (!running || revokingNow)) {
            task.run(); // close() or the revocation began meanwhile and may have missed it
        }
    }

    /** A delayed in-process redelivery; runs its retry once, whoever runs it first. */
    private final class PendingRetry implements Runnable {
        final PartitionId partition;
        private final Runnable retry;

        PendingRetry(PartitionId partition, Runnable retry) {
            this.partition = partition;
            this.retry = retry;
        }

        @Override
        public void run() {
            boolean claimed;
            synchronized (pendingRetries) {
                claimed = pendingRetries.remove(this);
            }
            if (claimed) {
                retry.run();
            }
        }
    }

    /** Runs at once the pending delayed redeliveries of {@code partitions} (all when null): their records are given up. */
    private void runPendingRetries(Set<PartitionId> partitions) {
        List<PendingRetry> due = new ArrayList<>();
        synchronized (pendingRetries) {
            for (PendingRetry p : pendingRetries) {
                if (partitions == null || partitions.contains(p.partition)) {
                    due.add(p);
                }
            }
        }
        for (PendingRetry p : due) {
            p.run();
        }
    }

    private void run() {
        try {
            consumer.subscribe(List.of(spec.topic()), new Rebalance(consumer, true));
            if (retryConsumer != null) {
                retryConsumer.subscribe(List.of(retryTopic), new Rebalance(retryConsumer, false));
            }
            nextRetryPoll = System.nanoTime();
            while (running) {
                releaseDueRetries();
                applyPauses();
                // while back-pressure holds partitions paused, poll briefly so they resume as soon as handlers catch up
                boolean backPressure = !userPaused && !coordinator.pausedPartitions().isEmpty();
                ConsumerRecords<String, byte[]> records = consumer.poll(backPressure ? PAUSED_POLL : POLL);
                for (TopicPartition tp : records.partitions()) {
                    // one hand-over per partition and poll: one lock acquisition and one dispatch for all its records
                    coordinator.submitAll(partitionId(tp), records.records(tp), ConsumerRecord::offset, KafkaSubscription::lane,
                            r -> new KafkaRecord(r, 1));
                }
                long nanos = System.nanoTime();
                if (retryConsumer != null && nanos - nextRetryPoll >= 0) {
                    // the main poll did the waiting; the retry consumer only takes what it has fetched meanwhile
                    ConsumerRecords<String, byte[]> retries = retryConsumer.poll(Duration.ZERO);
                    long now = System.currentTimeMillis();
                    for (TopicPartition tp : retries.partitions()) {
                        submitRetries(tp, retries.records(tp), now);
                    }
                    // while it has records, on every turn; idle, every RETRY_POLL_IDLE_NANOS: even an idle poll is a
                    // round trip to the consumer's background thread (2-8 us here), paid on every turn of the loop before
                    nextRetryPoll = retries.isEmpty() ? nanos + RETRY_POLL_IDLE_NANOS : nanos;
                }
                commitAsync(coordinator.pollCommits(nanos));
            }
        } catch (WakeupException e) {
            // close() woke us up
        } catch (RuntimeException e) {
            if (firstAssignment.getCount() > 0) {
                startFailure = new BrokerUnavailableException("subscribing to '" + spec.topic() + "' failed: " + e.getMessage(), e);
                firstAssignment.countDown();
            } else {
                log.error("Kafka consumer of '{}' stopped; unfinished records will be redelivered to another member", spec.topic(), e);
            }
        } finally {
            shutdown();
        }
    }

    /**
     * Submits the records of a retry-topic partition that are due; at the first one that is not,
     * rewinds the partition to it and pauses it until its due time.
     */
    private void submitRetries(TopicPartition tp, List<ConsumerRecord<String, byte[]>> polled, long now) {
        if (waitingRetries.containsKey(tp)) {
            return; // rewound earlier: the rest of the partition comes again once it is due
        }
        PartitionId id = partitionId(tp);
        for (ConsumerRecord<String, byte[]> r : polled) {
            long due = longHeader(r, HeaderNames.RETRY_AT, 0);
            if (due > now) {
                retryConsumer.seek(tp, r.offset());
                retryConsumer.pause(List.of(tp));
                waitingRetries.put(tp, due);
                return;
            }
            int attempt = (int) Math.max(1, Math.min(Integer.MAX_VALUE, longHeader(r, HeaderNames.ATTEMPT, 1)));
            coordinator.submit(id, r.offset(), lane(r), new KafkaRecord(r, attempt));
        }
    }

    /** Resumes retry partitions whose waiting record is due (unless something else keeps them paused). */
    private void releaseDueRetries() {
        if (waitingRetries.isEmpty()) {
            return;
        }
        long now = System.currentTimeMillis();
        List<TopicPartition> due = new ArrayList<>();
        waitingRetries.entrySet().removeIf(e -> {
            if (e.getValue() <= now) {
                due.add(e.getKey());
                return true;
            }
            return false;
        });
        if (due.isEmpty() || userPaused) {
            return; // applyPauses resumes them with the rest after resume()
        }
        Set<PartitionId> held = coordinator.pausedPartitions();
        due.removeIf(tp -> held.contains(PartitionId.of(tp.topic(), tp.partition())) || !assigned.contains(tp));
        if (!due.isEmpty()) {
            retryConsumer.resume(due);
        }
    }

    private static long longHeader(ConsumerRecord<String, byte[]> r, String name, long fallback) {
        Header h = r.headers().lastHeader(name);
        if (h == null || h.value() == null) {
            return fallback;
        }
        try {
            return Long.parseLong(new String(h.value(), StandardCharsets.UTF_8).trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /**
     * Copies {@code r} to the retry topic, due after {@code delay}, with the next attempt number;
     * completes when the broker acknowledged the copy.
     */
    private CompletableFuture<Void> sendToRetryTopic(KafkaRecord r, Duration delay) {
        ConsumerRecord<String, byte[]> in = r.record;
        RecordHeaders headers = new RecordHeaders();
        boolean firstFailure = false;
        long timestamp = longHeader(in, RETRY_TIMESTAMP, in.timestamp()); // a retry record's own header keeps the first one
        for (Header h : in.headers()) {
            switch (h.key()) {
                case HeaderNames.ATTEMPT, HeaderNames.RETRY_AT, RETRY_TIMESTAMP -> {
                }
                default -> {
                    firstFailure |= h.key().equals(HeaderNames.FIRST_FAILURE);
                    headers.add(h);
                }
            }
        }
        Instant now = Instant.now();
        headers.add(HeaderNames.ATTEMPT, Integer.toString(r.attempt + 1).getBytes(StandardCharsets.UTF_8));
        headers.add(HeaderNames.RETRY_AT, Long.toString(now.plus(delay).toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        if (!firstFailure) {
            headers.add(HeaderNames.FIRST_FAILURE, now.toString().getBytes(StandardCharsets.UTF_8));
        }
        if (timestamp >= 0) {
            headers.add(RETRY_TIMESTAMP, Long.toString(timestamp).getBytes(StandardCharsets.UTF_8));
        }
        return retrySender.apply(new ProducerRecord<>(retryTopic, null, null, in.key(), in.value(), headers));
    }

    /** Keyless records are not ordered (Ordering.BY_KEY orders keys only): each gets a lane of its own. */
    private static Object lane(ConsumerRecord<String, byte[]> r) {
        return r.key() != null ? r.key() : (Object) r.offset();
    }

    private PartitionId partitionId(TopicPartition tp) {
        return partitionIds.computeIfAbsent(tp, t -> PartitionId.of(t.topic(), t.partition()));
    }

    private void applyPauses() {
        if (assigned.isEmpty()) {
            coordinator.partitionsToPause();
            coordinator.partitionsToResume();
            return;
        }
        Set<PartitionId> pauseIds = coordinator.partitionsToPause();
        Set<PartitionId> resumeIds = coordinator.partitionsToResume();
        if (userPaused) {
            pause(assigned);
            return;
        }
        if (!pauseIds.isEmpty()) {
            log.debug("back-pressure: pausing {} partition(s) of '{}' with {} records held", pauseIds.size(), spec.topic(),
                    coordinator.heldRecords());
            pause(toKafka(pauseIds));
        }
        if (!resumeIds.isEmpty()) {
            log.debug("back-pressure: resuming {} partition(s) of '{}' with {} records held", resumeIds.size(), spec.topic(),
                    coordinator.heldRecords());
        }
        // resume what the coordinator allows, and whatever a user pause left paused
        Set<TopicPartition> resume = new HashSet<>(consumer.paused());
        if (retryConsumer != null) {
            resume.addAll(retryConsumer.paused());
        }
        Set<PartitionId> stillPaused = coordinator.pausedPartitions();
        resume.removeIf(tp -> stillPaused.contains(PartitionId.of(tp.topic(), tp.partition())));
        resume.addAll(toKafka(resumeIds));
        resume.retainAll(assigned);
        resume.removeAll(waitingRetries.keySet());
        if (!resume.isEmpty()) {
            for (Map.Entry<KafkaConsumer<String, byte[]>, Set<TopicPartition>> e : byConsumer(resume).entrySet()) {
                e.getKey().resume(e.getValue());
            }
        }
    }

    private void pause(Collection<TopicPartition> partitions) {
        for (Map.Entry<KafkaConsumer<String, byte[]>, Set<TopicPartition>> e : byConsumer(partitions).entrySet()) {
            e.getKey().pause(e.getValue());
        }
    }

    /** The consumer that owns a partition: the retry consumer for the retry topic's, else the main one. */
    private KafkaConsumer<String, byte[]> consumerOf(String topic) {
        return retryConsumer != null && topic.equals(retryTopic) ? retryConsumer : consumer;
    }

    private Map<KafkaConsumer<String, byte[]>, Set<TopicPartition>> byConsumer(Collection<TopicPartition> partitions) {
        Map<KafkaConsumer<String, byte[]>, Set<TopicPartition>> out = new HashMap<>(2);
        for (TopicPartition tp : partitions) {
            out.computeIfAbsent(consumerOf(tp.topic()), c -> new HashSet<>()).add(tp);
        }
        return out;
    }

    /** Splits committable offsets by the consumer that owns each partition: each consumer commits its own. */
    private Map<KafkaConsumer<String, byte[]>, Map<PartitionId, Long>> byConsumer(Map<PartitionId, Long> offsets) {
        if (retryConsumer == null) {
            return Map.of(consumer, offsets);
        }
        Map<KafkaConsumer<String, byte[]>, Map<PartitionId, Long>> out = new HashMap<>(2);
        offsets.forEach((p, o) -> out.computeIfAbsent(consumerOf(p.topic()), c -> new HashMap<>()).put(p, o));
        return out;
    }

    private void commitAsync(Map<PartitionId, Long> all) {
        if (all.isEmpty()) {
            return;
        }
        byConsumer(all).forEach(this::commitAsync);
    }

    private void commitAsync(KafkaConsumer<String, byte[]> consumer, Map<PartitionId, Long> offsets) {
        consumer.commitAsync(toOffsets(offsets), (done, e) -> {
            if (e == null) {
                coordinator.onCommitted(offsets);
            } else {
                log.debug("async commit of {} failed: {}", offsets, e.toString());
                offsets.forEach(coordinator::onCommitFailed);
            }
        });
    }

    private void commitSync(Map<PartitionId, Long> all) {
        if (all.isEmpty()) {
            return;
        }
        byConsumer(all).forEach(this::commitSync);
    }

    private void commitSync(KafkaConsumer<String, byte[]> consumer, Map<PartitionId, Long> offsets) {
        try {
            try {
                consumer.commitSync(toOffsets(offsets), Duration.ofSeconds(10));
            } catch (WakeupException e) {
                // close() woke the consumer while it was not polling; the wake-up is spent now, so commit again
                consumer.commitSync(toOffsets(offsets), Duration.ofSeconds(10));
            }
            coordinator.onCommitted(offsets);
        } catch (RuntimeException e) {
            log.warn("committing {} failed; those records will be redelivered: {}", offsets, e.toString());
        }
    }

    private void shutdown() {
        try {
            coordinatorClosing = true;
            Map<PartitionId, Long> last = coordinator.close(drainTimeout);
            commitSync(last);
        } catch (RuntimeException e) {
            log.warn("closing the coordinator of '{}' failed: {}", spec.topic(), e.toString());
        }
        close(consumer);
        if (retryConsumer != null) {
            close(retryConsumer);
        }
        if (broadcast) {
            // its group is this subscription's alone and no later one reads its offsets: leave nothing behind on the broker
            forgetGroup.accept(groupId);
        }
        firstAssignment.countDown();
        closed.complete(null);
    }

    private static void close(KafkaConsumer<String, byte[]> consumer) {
        try {
            consumer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.debug("closing the Kafka consumer failed: {}", e.toString());
        }
    }

    /** Rebalances of one of the subscription's consumers; only the main one's first assignment completes {@link #start()}. */
    private final class Rebalance implements ConsumerRebalanceListener {
        private final KafkaConsumer<String, byte[]> consumer;
        private final boolean main;

        Rebalance(KafkaConsumer<String, byte[]> consumer, boolean main) {
            this.consumer = consumer;
            this.main = main;
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            assigned.removeAll(partitions);
            waitingRetries.keySet().removeAll(partitions);
            if (!partitions.isEmpty()) {
                Set<PartitionId> ids = toIds(partitions);
                try {
                    // records waiting for a delayed redelivery are not running: once the partitions stopped dispatching,
                    // give them up for the next owner instead of waiting out their delay
                    commitSync(coordinator.onPartitionsRevoked(ids, settings.revokeTimeout, () -> {
                        synchronized (pendingRetries) {
                            revoking.addAll(ids);
                        }
                        runPendingRetries(ids);
                    }));
                } finally {
                    synchronized (pendingRetries) {
                        revoking.removeAll(ids);
                    }
                }
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            assigned.removeAll(partitions);
            waitingRetries.keySet().removeAll(partitions);
            coordinator.onPartitionsLost(toIds(partitions));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assigned.addAll(partitions);
            coordinator.onPartitionsAssigned(toIds(partitions));
            if (!main) {
                return; // retry records always start at the earliest uncommitted one; applyPauses pauses them if need be
            }
            // on a new group's first assignment the start of every partition of the topic is committed at once, this member's included
            boolean groupStarted = !initiallyAssigned && fixGroupStart(partitions);
            if (!groupStarted) {
                if (initiallyAssigned && startsAtLatest) {
                    startAddedPartitions(partitions);
                } else {
                    seekToStart(partitions);
                }
            }
            for (TopicPartition tp : partitions) {
                consumer.position(tp); // resolve "latest" now, so messages published after subscribe() are not skipped
            }
            if (!groupStarted) {
                commitLatestStart(partitions);
            }
            // a broadcast member is alone in its group and gets every partition; the consumer protocol may first
            // report an empty assignment, and returning from subscribe() then would let "latest" skip messages
            if (!broadcast || !assigned.isEmpty()) {
                initiallyAssigned = true;
                firstAssignment.countDown();
            }
        }
    }

    /**
     * For a group starting at LATEST, a TIME or a SEQUENCE, on this member's first assignment: when the group has
     * committed no partition of the topic (it starts now), resolves the start of every partition of the topic and
     * commits it, those not assigned to this member too, and seeks the assigned ones there. The consumer protocol
     * may hand a member its partitions in steps, after subscribe() returned (the first assignment is often empty),
     * and a partition whose start was resolved only when it arrived would skip what was published to it
     * meanwhile. A group that committed any partition of the topic has started before: its start is not moved
     * (partitions it never committed are then resolved by their owner, as {@link #startAddedPartitions} and
     * {@link #seekToStart} say).
     *
     * <p>The group coordinator takes a member's commit for any partition while the member's epoch is current;
     * with a stale one (another member joined a moment ago) only for its own partitions, so the commit is tried
     * again once the new epoch arrived. Members that start together both find nothing committed and commit starts
     * resolved a moment apart, before either returned from subscribe().
     *
     * @return whether the start was committed here
     */
    private boolean fixGroupStart(Collection<TopicPartition> assignedNow) {
        StartPosition.Kind kind = spec.startFrom().kind();
        // (LATEST only while the consumer's auto.offset.reset says so: a user's own setting of it decides instead)
        if (broadcast || (kind == StartPosition.Kind.LATEST ? !startsAtLatest : kind != StartPosition.Kind.TIME && kind != StartPosition.Kind.SEQUENCE)) {
            return false;
        }
        List<TopicPartition> all = new ArrayList<>();
        consumer.partitionsFor(spec.topic()).forEach(p -> all.add(new TopicPartition(p.topic(), p.partition())));
        if (all.isEmpty() || neverCommitted(all).size() < all.size()) {
            return false;
        }
        Map<TopicPartition, Long> start = resolveStart(all);
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        start.forEach((tp, offset) -> commit.put(tp, new OffsetAndMetadata(offset)));
        long deadline = System.nanoTime() + STALE_EPOCH_WAIT.toNanos();
        while (true) {
            try {
                consumer.commitSync(commit);
                break;
            } catch (StaleMemberEpochException | CommitFailedException | RebalanceInProgressException e) {
                if (System.nanoTime() - deadline >= 0 || !sleep(STALE_EPOCH_RETRY)) {
                    log.warn("could not commit the start of '{}' for group '{}' ({}); partitions assigned later start when they are assigned",
                            spec.topic(), groupId, e.toString());
                    return false;
                }
            }
        }
        for (TopicPartition tp : assignedNow) {
            consumer.seek(tp, start.get(tp));
        }
        log.debug("group '{}' starts '{}' at {}", groupId, spec.topic(), start);
        return true;
    }

    /** Sleeps for {@code d}; false if interrupted (the flag is kept). */
    private static boolean sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Where {@code partitions} start for the subscription's LATEST, TIME or SEQUENCE start, resolved now: their end,
     * the first record stamped at or after the time (else the end), or the sequence (at most the end: beyond it the
     * fetch would be out of range and auto.offset.reset, earliest, replay the partition).
     */
    private Map<TopicPartition, Long> resolveStart(Collection<TopicPartition> partitions) {
        StartPosition start = spec.startFrom();
        if (start.kind() == StartPosition.Kind.TIME) {
            return offsetsAt(partitions, start.time().toEpochMilli(), consumer::endOffsets);
        }
        Map<TopicPartition, Long> out = new HashMap<>();
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
        for (TopicPartition tp : partitions) {
            long end = ends.get(tp);
            out.put(tp, start.kind() == StartPosition.Kind.SEQUENCE ? Math.min(start.sequence(), end) : end);
        }
        return out;
    }

    /**
     * The offset of the first record of each of {@code partitions} stamped at or after {@code timeMs}, or what
     * {@code otherwise} gives for those with no such record (their end, or their beginning).
     */
    private Map<TopicPartition, Long> offsetsAt(Collection<TopicPartition> partitions, long timeMs,
            java.util.function.Function<Collection<TopicPartition>, Map<TopicPartition, Long>> otherwise) {
        Map<TopicPartition, Long> query = new HashMap<>();
        partitions.forEach(tp -> query.put(tp, timeMs));
        Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query);
        Map<TopicPartition, Long> out = new HashMap<>();
        List<TopicPartition> none = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            OffsetAndTimestamp o = found.get(tp);
            if (o != null) {
                out.put(tp, o.offset());
            } else {
                none.add(tp);
            }
        }
        if (!none.isEmpty()) {
            out.putAll(otherwise.apply(none));
        }
        return out;
    }

    /**
     * For a LATEST group start, commits the resolved position of partitions the group never committed: a
     * partition that moves to another member before a record arrived would otherwise start at the end again
     * there, skipping what was published meanwhile.
     */
    private void commitLatestStart(Collection<TopicPartition> partitions) {
        if (broadcast || partitions.isEmpty() || spec.startFrom().kind() != StartPosition.Kind.LATEST) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> start = new HashMap<>();
        for (TopicPartition tp : neverCommitted(partitions)) {
            start.put(tp, new OffsetAndMetadata(consumer.position(tp)));
        }
        if (!start.isEmpty()) {
            consumer.commitSync(start);
        }
    }

    /** Those of {@code partitions} for which the group has no committed offset (asks the group coordinator). */
    private List<TopicPartition> neverCommitted(Collection<TopicPartition> partitions) {
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(new HashSet<>(partitions));
        List<TopicPartition> fresh = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            if (committed.get(tp) == null) {
                fresh.add(tp);
            }
        }
        return fresh;
    }

    /**
     * For a subscription starting at the latest offset, partitions assigned after its first assignment
     * that the group never committed start at the first record stamped at or after the subscription was
     * made, or at their beginning when none is: such a partition was added to the topic after subscribe()
     * (every partition there was then is assigned, and under LATEST committed, at once), and starting at
     * its end when the member gets it, seconds after it was added, would skip what was published to it
     * meanwhile. The start is committed, as {@link #commitLatestStart} does, so the partition moving to
     * another member before a record arrived skips nothing either. (Time, not the beginning alone, in case
     * such a partition is older after all: a group whose earlier members started elsewhere.)
     */
    private void startAddedPartitions(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        List<TopicPartition> fresh = neverCommitted(partitions);
        if (fresh.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> start = new HashMap<>();
        offsetsAt(fresh, subscribedAt, consumer::beginningOffsets).forEach((tp, offset) -> {
            consumer.seek(tp, offset);
            start.put(tp, new OffsetAndMetadata(offset));
        });
        log.debug("partitions {} added to '{}' after the subscription started begin at {}", fresh, spec.topic(), start);
        consumer.commitSync(start);
    }

    /**
     * For TIME and SEQUENCE starts, partitions the group never committed start at the requested point,
     * and a group commits that start, as {@link #commitLatestStart} does: a start beyond a partition's end
     * (a sequence past it, a time no record is that new yet) resolves to the end, and evaluated again
     * after the member stopped before committing anything there, against the end then, it would skip
     * what was published to the partition meanwhile.
     */
    private void seekToStart(Collection<TopicPartition> partitions) {
        StartPosition start = spec.startFrom();
        if (partitions.isEmpty() || (start.kind() != StartPosition.Kind.TIME && start.kind() != StartPosition.Kind.SEQUENCE)) {
            return;
        }
        List<TopicPartition> fresh = neverCommitted(partitions);
        if (fresh.isEmpty()) {
            return;
        }
        resolveStart(fresh).forEach(consumer::seek);
        if (broadcast) {
            return; // its group is this subscription's alone: no later member reads the commit
        }
        Map<TopicPartition, OffsetAndMetadata> resolved = new HashMap<>();
        for (TopicPartition tp : fresh) {
            resolved.put(tp, new OffsetAndMetadata(consumer.position(tp)));
        }
        consumer.commitSync(resolved);
    }

    @Override
    public void pause() {
        synchronized (pauseLock) {
            userPaused = true;
            if (pausedGate == null) {
                pausedGate = new CompletableFuture<>();
            }
        }
    }

    @Override
    public void resume() {
        CompletableFuture<Void> gate;
        synchronized (pauseLock) {
            userPaused = false;
            gate = pausedGate;
            pausedGate = null;
        }
        if (gate != null) {
            gate.complete(null);
        }
    }

    @Override
    public CompletionStage<Void> close(Duration drainTimeout) {
        this.drainTimeout = drainTimeout;
        running = false;
        // records parked behind a pause() would hold the close for the whole drain timeout: let them through, they are given up
        CompletableFuture<Void> gate;
        synchronized (pauseLock) {
            gate = pausedGate;
            pausedGate = null;
        }
        if (gate != null) {
            gate.complete(null);
        }
        // records waiting for a delayed redelivery are not running: give them up now instead of waiting out the delay
        runPendingRetries(null);
        if (Thread.currentThread() != thread) {
            consumer.wakeup();
            if (retryConsumer != null) {
                retryConsumer.wakeup();
            }
        }
        return closed;
    }

    private static Set<PartitionId> toIds(Collection<TopicPartition> partitions) {
        Set<PartitionId> out = new HashSet<>();
        for (TopicPartition tp : partitions) {
            out.add(PartitionId.of(tp.topic(), tp.partition()));
        }
        return out;
    }

    private static Set<TopicPartition> toKafka(Collection<PartitionId> ids) {
        Set<TopicPartition> out = new HashSet<>();
        for (PartitionId p : ids) {
            out.add(new TopicPartition(p.topic(), p.partition()));
        }
        return out;
    }

    private static Map<TopicPartition, OffsetAndMetadata> toOffsets(Map<PartitionId, Long> offsets) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        offsets.forEach((p, o) -> out.put(new TopicPartition(p.topic(), p.partition()), new OffsetAndMetadata(o)));
        return out;
    }

    /**
     * One delivery of a polled record, and the stage the coordinator waits on: it completes when the
     * delivery is settled (one object per record rather than two).
     */
    private static final class KafkaDelivery extends CompletableFuture<Void> implements InboundDelivery {
        private final KafkaRecord record;
        private final KafkaSubscription subscription;
        private Message message;
        private final int attempt;

        KafkaDelivery(KafkaRecord record, KafkaSubscription subscription) {
            this.record = record;
            this.subscription = subscription;
            this.attempt = record.attempt;
        }

        /**
         * Built on first use: a handler that only acks never pays for the mapping. A record from the
         * retry topic reads as a message of the subscription's topic, with its original timestamp and
         * without the retry headers.
         */
        @Override
        public synchronized Message message() {
            if (message == null) {
                Message m = KafkaMessages.toMessage(record.record);
                if (record.record.topic().equals(subscription.retryTopic)) {
                    Message.Builder b = m.toBuilder().topic(subscription.spec.topic())
                            .headers(m.headers().without(HeaderNames.ATTEMPT).without(HeaderNames.RETRY_AT).without(RETRY_TIMESTAMP));
                    long timestamp = longHeader(record.record, RETRY_TIMESTAMP, -1);
                    if (timestamp >= 0) {
                        b.timestamp(Instant.ofEpochMilli(timestamp));
                    }
                    m = b.build();
                }
                message = m;
            }
            return message;
        }

        @Override
        public int attempt() {
            return attempt;
        }

        @Override
        public DeliveryMetadata metadata() {
            return DeliveryMetadata.partitionOffset(record.record.partition(), record.record.offset());
        }

        @Override
        public <T> T unwrap(Class<T> type) {
            return type.isInstance(record.record) ? type.cast(record.record) : null;
        }

        @Override
        public void ack() {
            complete(null);
        }

        @Override
        public void nack(Duration delay) {
            Duration d = delay != null ? delay : subscription.spec.redeliveryDelay();
            Duration threshold = subscription.settings.retryThreshold;
            if (subscription.retryTopic == null || threshold == null || d.compareTo(threshold) < 0) {
                completeExceptionally(new Redeliver(d));
                return;
            }
            CompletableFuture<Void> copied;
            try {
                copied = subscription.sendToRetryTopic(record, d);
            } catch (RuntimeException e) {
                copied = CompletableFuture.failedFuture(e);
            }
            copied.whenComplete((v, e) -> {
                if (e == null) {
                    complete(null); // the copy in the retry topic carries it on: finish the original
                } else {
                    log.warn("could not copy {} to retry topic '{}' ({}); redelivering it in process after {} ms",
                            message(), subscription.retryTopic, e.toString(), d.toMillis());
                    completeExceptionally(new Redeliver(d));
                }
            });
        }

        @Override
        public void reject() {
            complete(null);
        }
    }
}
