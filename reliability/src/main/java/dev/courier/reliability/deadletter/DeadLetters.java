package dev.courier.reliability.deadletter;

import dev.courier.Courier;
import dev.courier.Delivery;
import dev.courier.Destinations;
import dev.courier.HeaderNames;
import dev.courier.Headers;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.internal.Unintercepted;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lists and redrives the messages of a dead-letter destination (see {@link Subscribe#deadLetterTopic()}),
 * on any binding, through the Courier's own publish and subscribe. Its subscriptions run outside the
 * Courier's interceptors (a {@link dev.courier.reliability.Reliability} policy among them): the
 * listener still sees their deliveries, but no retry, handler timeout or idempotency applies to them.
 *
 * <pre>{@code
 * DeadLetters dlq = DeadLetters.of(courier);
 * List<DeadLetter> some = dlq.list("orders.billing.dlq", 100, Duration.ofSeconds(2));
 * RedriveResult r = dlq.redrive(Redrive.from("orders.billing.dlq")
 *         .filter(dl -> dl.exceptionClass().equals("java.net.ConnectException")));
 * }</pre>
 *
 * <h2>How it reads the destination</h2>
 * Both operations consume the dead-letter destination in one consumer group, the <em>redrive
 * group</em> ({@value #DEFAULT_GROUP} unless chosen with {@link #of(Courier, String)}). On log
 * bindings (Kafka, JetStream, {@code mem://}) the group's committed position is where the next
 * redrive continues; on RabbitMQ every group of a {@code *.dlq} topic reads the one durable queue
 * of that name, so the queue itself holds what is pending.
 *
 * <h2>Listing</h2>
 * {@link #list} shows the dead letters that are still pending, i.e. not consumed by the redrive
 * group yet, oldest first. It consumes nothing: it holds each delivery unsettled and, when done,
 * gives all of them back unacknowledged ({@code nack}), so the redrive group's position does not
 * move and RabbitMQ requeues them. A dead letter the broker redelivers during the listing is listed
 * once. While a list runs, the dead letters it holds are not available to a redrive of the same group.
 *
 * <h2>Redriving, without loss</h2>
 * Each selected dead letter is published to its original topic ({@link HeaderNames#DLQ_ORIGINAL_TOPIC})
 * or to {@link Redrive#to(String)}, and the dead letter is acked only after that publish was
 * confirmed. The redriven message has the original key, payload, content type and headers, without
 * the {@code courier-dlq-*} failure headers and with a new timestamp. It gets a <b>new message
 * id</b>, and the id it had when first published is kept in {@link #ORIGINAL_ID}: brokers that
 * deduplicate by id (JetStream's duplicate window) would otherwise drop the redriven message as a
 * duplicate of the original, and it must be processed again anyway (the idempotency layer releases
 * the key of a message it dead-lettered).
 *
 * <p>A dead letter the filter does not select, or that cannot be redriven (no original-topic header
 * and no {@code to(...)}, a filter that throws, a failed publish), stays pending: it is republished
 * to the dead-letter destination (new id, same headers, confirmed) before the original is acked, so
 * a later list or redrive finds it again. A redrive never takes a message it republished itself
 * (they are told apart by id), so it cannot loop; a republished copy it meets is given back
 * unacknowledged. If even that republish fails the dead letter is given back unacknowledged.
 * Delivery is at least once: a redrive interrupted between a confirmed publish and the ack of the
 * dead letter (a crash, a Kafka rebalance), or on a log binding a dead letter after one given back
 * unacknowledged, may be redriven again by the next redrive.
 *
 * <h2>Stopping</h2>
 * A list or redrive stops when {@code limit} dead letters were taken or when no new one arrived for
 * the idle timeout, counted from when the subscription is ready as well: an unknown or empty
 * destination gives an empty result after the idle timeout. It must cover the time the broker takes
 * to deliver the first messages after a subscribe (a few seconds after a Kafka group join).
 *
 * <h2>Concurrency</h2>
 * Instances are thread-safe; each call runs on its own subscription and blocks the caller.
 * Concurrent redrives of one destination in one redrive group share its dead letters as competing
 * consumers: each dead letter is handled by one of them (at least once, see above), and a copy one
 * republished may be evaluated by the other's filter. Run one redrive per destination at a time
 * when the counts must add up.
 */
public final class DeadLetters {

    /** The consumer group list and redrive use unless told otherwise. */
    public static final String DEFAULT_GROUP = "courier-redrive";
    /** Largest {@code limit} of {@link #list}. */
    public static final int MAX_LIST = 10_000;
    /**
     * Header of a redriven message, and of a dead letter a redrive republished: the id the message
     * had when first published.
     */
    public static final String ORIGINAL_ID = HeaderNames.PREFIX + "original-id";

    private static final Logger log = LoggerFactory.getLogger(DeadLetters.class);
    private static final String DLQ_HEADER_PREFIX = HeaderNames.PREFIX + "dlq-";
    private static final int REDRIVE_CONCURRENCY = 64;
    private static final Duration GIVE_BACK_DRAIN = Duration.ofSeconds(5);

    private final Courier courier;
    private final String group;

    private DeadLetters(Courier courier, String group) {
        this.courier = courier;
        this.group = group;
    }

    /** Dead-letter operations on {@code courier} in the group {@value #DEFAULT_GROUP}. */
    public static DeadLetters of(Courier courier) {
        return of(courier, DEFAULT_GROUP);
    }

    /** Dead-letter operations on {@code courier} in the redrive group {@code group}. */
    public static DeadLetters of(Courier courier, String group) {
        return new DeadLetters(Objects.requireNonNull(courier, "courier"), Destinations.checkGroup(group));
    }

    /** The redrive group. */
    public String group() {
        return group;
    }

    /**
     * The pending dead letters of {@code deadLetterTopic}, oldest first where the broker keeps an
     * order, at most {@code limit}; consumes nothing. Returns when {@code limit} were found or when
     * none new arrived for {@code idleTimeout}.
     *
     * @param limit       1 to {@value #MAX_LIST}
     * @param idleTimeout positive
     */
    public List<DeadLetter> list(String deadLetterTopic, int limit, Duration idleTimeout) {
        Destinations.checkTopic(deadLetterTopic);
        if (limit < 1 || limit > MAX_LIST) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIST + ", was " + limit
                    + "; list in pages or redrive with a filter for more");
        }
        checkIdle(idleTimeout);
        List<DeadLetter> found = Collections.synchronizedList(new ArrayList<>());
        Set<String> seen = ConcurrentHashMap.newKeySet();
        Run run = new Run(idleTimeout);
        Subscription sub = courier.subscribeAsync(spec(deadLetterTopic, limit), d -> {
            if (run.stopping || !seen.add(d.message().id()) || found.size() >= limit) {
                run.hold(d);
                return null;
            }
            found.add(DeadLetter.of(d.message()));
            run.hold(d);
            run.activity();
            if (found.size() >= limit) {
                run.limitReached();
            }
            return null;
        });
        run.activity(); // the idle clock starts once the subscription is ready (a Kafka subscribe waits for its assignment)
        run.awaitEnd(sub);
        synchronized (found) {
            return List.copyOf(found);
        }
    }

    /**
     * Redrives the dead letters {@code redrive} describes and returns the counts once it stopped
     * (limit reached, or idle for its idle timeout with every publish settled). Blocks the caller.
     */
    public RedriveResult redrive(Redrive redrive) {
        Objects.requireNonNull(redrive, "redrive");
        String from = redrive.from();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger taken = new AtomicInteger();
        AtomicInteger redriven = new AtomicInteger();
        AtomicInteger skipped = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        Map<String, String> failures = new ConcurrentHashMap<>();
        Run run = new Run(redrive.idleTimeout());
        Subscription sub = courier.subscribeAsync(spec(from, REDRIVE_CONCURRENCY), d -> {
            Message m = d.message();
            if (run.stopping || !seen.add(m.id())) {
                run.hold(d); // a redelivery, or a copy this redrive republished itself
                return null;
            }
            int number = taken.incrementAndGet();
            if (number > redrive.limit()) {
                run.hold(d); // beyond the limit: given back at the end
                return null;
            }
            run.started();
            if (number == redrive.limit()) {
                run.limitReached(); // the end comes once this one and those before it settled, not with one more arrival
            }
            DeadLetter dl = DeadLetter.of(m);
            String target = redrive.to() != null ? redrive.to() : dl.originalTopic();
            Outcome outcome;
            String reason = null;
            if (target.isEmpty()) {
                outcome = Outcome.FAILED;
                reason = "dead letter " + m.id() + " has no " + HeaderNames.DLQ_ORIGINAL_TOPIC
                        + " header; redrive it with Redrive.to(topic) to choose where it goes";
            } else {
                try {
                    outcome = redrive.filter().test(dl) ? Outcome.REDRIVE : Outcome.SKIP;
                } catch (RuntimeException e) {
                    outcome = Outcome.FAILED;
                    reason = "the filter threw " + e;
                }
            }
            if (outcome == Outcome.REDRIVE) {
                publish(redriven(m, target)).whenCompleteAsync((receipt, e) -> {
                    if (e == null && !receipt.duplicate()) {
                        d.ack();
                        redriven.incrementAndGet();
                        run.finished();
                    } else {
                        String why = e != null ? "publishing to '" + target + "' failed: " + unwrap(e)
                                : "the broker dropped the message published to '" + target + "' as a duplicate";
                        keepPending(d, from, seen, run, failed, failures, why);
                    }
                });
            } else if (outcome == Outcome.SKIP) {
                keepPending(d, from, seen, run, skipped, null, null);
            } else {
                keepPending(d, from, seen, run, failed, failures, reason);
            }
            return null;
        });
        run.activity(); // the idle clock starts once the subscription is ready (a Kafka subscribe waits for its assignment)
        run.awaitEnd(sub);
        RedriveResult result = new RedriveResult(redriven.get(), skipped.get(), failed.get(), new LinkedHashMap<>(failures));
        log.info("redrive of '{}' in group '{}': {} redriven, {} skipped, {} failed", from, group, result.redriven(), result.skipped(),
                result.failed());
        return result;
    }

    private enum Outcome { REDRIVE, SKIP, FAILED }

    /** Republishes {@code d} to the dead-letter destination with a new id, then acks it; gives it back if that fails. */
    private void keepPending(Delivery d, String from, Set<String> seen, Run run, AtomicInteger counter, Map<String, String> failures,
                             String reason) {
        counter.incrementAndGet();
        if (failures != null) {
            failures.put(d.message().id(), reason);
            log.warn("dead letter {} in '{}' not redriven: {}", d.message().id(), from, reason);
        }
        Message copy = withNewId(d.message()).topic(from).build();
        seen.add(copy.id());
        publish(copy).whenCompleteAsync((receipt, e) -> {
            if (e == null && !receipt.duplicate()) {
                d.ack();
            } else {
                log.warn("could not republish dead letter {} to '{}' ({}); giving it back unacknowledged", d.message().id(), from,
                        e != null ? unwrap(e) : "dropped as a duplicate");
                run.hold(d);
            }
            run.finished();
        });
    }

    private CompletableFuture<PublishReceipt> publish(Message m) {
        try {
            return courier.publisher().publish(m).toCompletableFuture();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The dead letter as it goes back: failure headers removed, new id, new timestamp. */
    static Message redriven(Message dead, String target) {
        Headers h = dead.headers();
        for (String name : h.asMap().keySet()) {
            if (name.startsWith(DLQ_HEADER_PREFIX) || name.equals(HeaderNames.ATTEMPT) || name.equals(HeaderNames.FIRST_FAILURE)) {
                h = h.without(name);
            }
        }
        return withNewId(dead).headers(h).header(ORIGINAL_ID, DeadLetter.of(dead).originalId()).topic(target).build();
    }

    private static Message.Builder withNewId(Message m) {
        return m.toBuilder().id(Message.newId()).timestamp(null).header(ORIGINAL_ID, DeadLetter.of(m).originalId());
    }

    /**
     * The subscription of a list or redrive. It runs outside the Courier's interceptors: it holds
     * deliveries unsettled on purpose and settles each itself, so a policy's handler timeout, retry
     * or idempotency would consume what a list must leave pending, or skip what a redrive must take.
     */
    private Subscribe spec(String topic, int concurrency) {
        int c = Math.min(concurrency, Subscribe.MAX_CONCURRENCY);
        return Subscribe.to(topic).group(group).ordering(Ordering.NONE).concurrency(c).maxInFlight(c)
                .maxAttempts(1000).redeliveryDelay(Duration.ZERO).drainTimeout(GIVE_BACK_DRAIN).with(Unintercepted.INSTANCE);
    }

    private static void checkIdle(Duration idleTimeout) {
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout must be positive, was " + idleTimeout);
        }
    }

    private static Throwable unwrap(Throwable e) {
        while (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    /** One list or redrive: activity clock, deliveries held to be given back, the end. */
    private static final class Run {
        private final long idleNanos;
        private final Queue<Delivery> held = new ConcurrentLinkedQueue<>();
        private final AtomicInteger inFlight = new AtomicInteger();
        private final Object lock = new Object();
        private volatile long lastActivity = System.nanoTime();
        private volatile boolean limitReached;
        volatile boolean stopping;

        Run(Duration idleTimeout) {
            this.idleNanos = idleTimeout.toNanos();
        }

        void hold(Delivery d) {
            if (stopping) {
                d.nack(Duration.ZERO);
            } else {
                held.add(d);
            }
        }

        void activity() {
            lastActivity = System.nanoTime();
        }

        void started() {
            inFlight.incrementAndGet();
            activity();
        }

        void finished() {
            inFlight.decrementAndGet();
            activity();
            wake();
        }

        void limitReached() {
            limitReached = true;
            wake();
        }

        private void wake() {
            synchronized (lock) {
                lock.notifyAll();
            }
        }

        /** Waits for the end, then gives back what is held and closes the subscription. */
        void awaitEnd(Subscription sub) {
            try {
                synchronized (lock) {
                    while (true) {
                        if (inFlight.get() == 0) {
                            long idle = System.nanoTime() - lastActivity;
                            if (limitReached || idle >= idleNanos) {
                                break;
                            }
                            lock.wait(Math.max(1, (idleNanos - idle) / 1_000_000));
                        } else {
                            lock.wait(100);
                        }
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                // stop now: what is in flight settles on its own, the rest is given back below
            } finally {
                stopping = true;
                sub.pause();
                Delivery d;
                while ((d = held.poll()) != null) {
                    d.nack(Duration.ZERO);
                }
                sub.close();
            }
        }
    }
}
