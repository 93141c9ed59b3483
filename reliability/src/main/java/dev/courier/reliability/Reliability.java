package dev.courier.reliability;

import dev.courier.CodecException;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.HeaderNames;
import dev.courier.Interceptor;
import dev.courier.NonRetryableException;
import dev.courier.Outcome;
import dev.courier.Subscribe;
import dev.courier.reliability.idempotency.IdempotencyStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.function.BiConsumer;

/**
 * The failure policy of a Courier's subscriptions, the same on every broker: an
 * {@link Interceptor} made of four links, always in this order:
 *
 * <pre>
 * idempotency -> circuit breaker -> retry -> handler timeout -> handler
 * </pre>
 *
 * <ul>
 *   <li><b>idempotency</b> ({@link Idempotency}): a message already processed by the group is acked
 *       without running the handler; one being processed elsewhere is redelivered later.</li>
 *   <li><b>circuit breaker</b> ({@link CircuitBreakerPolicy}): admits each attempt; while it is open
 *       the subscription is paused and deliveries are held, not failed.</li>
 *   <li><b>retry</b> ({@link RetryPolicy}): in-process attempts with backoff and jitter (no thread
 *       waits; the next attempt runs on the handler executor), then broker redeliveries after the
 *       configured delays ({@link Outcome#nack}), then a dead letter. Non-retryable failures are
 *       dead-lettered at once. Once the policy decides, the subscription's own
 *       {@link Subscribe#maxAttempts} does not apply.</li>
 *   <li><b>handler timeout</b>: an attempt that runs longer counts as failed with a
 *       {@link HandlerTimeoutException}. A synchronous handler's thread is interrupted (a handler that
 *       ignores interrupts keeps running, but its result is discarded); an asynchronous handler's
 *       stage is abandoned.</li>
 * </ul>
 *
 * <pre>{@code
 * Reliability policy = Reliability.builder()
 *     .retry(RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(5)).attempts(3)
 *           .thenRedeliverAfter(Duration.ofMinutes(1), Duration.ofMinutes(10)))
 *     .handlerTimeout(Duration.ofSeconds(30))
 *     .circuitBreaker(CircuitBreakerPolicy.ofDefaults())
 *     .idempotency(Idempotency.with(new InMemoryIdempotencyStore()))
 *     .build();
 * Courier courier = Courier.builder().url(url).interceptor(policy).connect();
 * }</pre>
 *
 * <p>Or from configuration alone: {@link #fromConfig(CourierConfig)} reads the
 * {@code courier.reliability.*} keys, and a Courier whose configuration sets any of them installs
 * the policy by itself (an explicitly added {@code Reliability} wins). Events are reported to the
 * Courier's {@link CourierListener}: {@code retrying}, {@code handlerTimedOut},
 * {@code circuitStateChanged}, {@code duplicateSkipped}. Thread-safe; one instance may serve several
 * Couriers (subscriptions with the same topic and group then share a breaker).
 */
public final class Reliability implements Interceptor, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Reliability.class);
    private static final int FIRST_FAILURES_REMEMBERED = 10_000;

    /** Turns the policy on from configuration even if no other {@code courier.reliability.*} key is set. Default false. */
    public static final String ENABLED = "courier.reliability.enabled";
    /** In-process attempts per delivery. Default {@value RetryPolicy#DEFAULT_ATTEMPTS}. */
    public static final String RETRY_ATTEMPTS = "courier.reliability.retry.attempts";
    /** First backoff. Default 100ms. */
    public static final String RETRY_INITIAL_BACKOFF = "courier.reliability.retry.initial-backoff";
    /** Backoff multiplier. Default 2.0. */
    public static final String RETRY_MULTIPLIER = "courier.reliability.retry.multiplier";
    /** Longest backoff. Default 5s. */
    public static final String RETRY_MAX_BACKOFF = "courier.reliability.retry.max-backoff";
    /** Jitter, 0 to below 1. Default 0.5. */
    public static final String RETRY_JITTER = "courier.reliability.retry.jitter";
    /** Comma-separated broker redelivery delays after the in-process attempts, e.g. {@code 1m,10m}. Default none. */
    public static final String RETRY_REDELIVER_AFTER = "courier.reliability.retry.redeliver-after";
    /** Handler timeout per attempt; {@code 0} or empty for none. Default none. */
    public static final String HANDLER_TIMEOUT = "courier.reliability.handler-timeout";
    /** {@code true} for a circuit breaker with the defaults; any other circuit-breaker key of the ones below turns it on too. Default false. */
    public static final String BREAKER_ENABLED = "courier.reliability.circuit-breaker.enabled";
    /** Failure rate in percent that opens the breaker. Default 50. */
    public static final String BREAKER_FAILURE_RATE = "courier.reliability.circuit-breaker.failure-rate-threshold";
    /** Attempts in the count-based sliding window. Default 20. */
    public static final String BREAKER_SLIDING_WINDOW = "courier.reliability.circuit-breaker.sliding-window";
    /** Attempts needed before a failure rate is computed. Default 10. */
    public static final String BREAKER_MINIMUM_CALLS = "courier.reliability.circuit-breaker.minimum-calls";
    /** How long the breaker stays open before trial calls. Default 30s. */
    public static final String BREAKER_WAIT_IN_OPEN = "courier.reliability.circuit-breaker.wait-in-open";
    /**
     * {@code memory} for an {@link dev.courier.reliability.idempotency.InMemoryIdempotencyStore},
     * {@code redis} for a {@link dev.courier.reliability.idempotency.RedisIdempotencyStore} (needs
     * {@link #IDEMPOTENCY_REDIS_URL}), {@code jdbc} for a
     * {@link dev.courier.reliability.idempotency.JdbcIdempotencyStore} (needs
     * {@link #IDEMPOTENCY_JDBC_URL}), {@code none} for no idempotency. Default none.
     */
    public static final String IDEMPOTENCY_STORE = "courier.reliability.idempotency.store";
    /** Redis URL of {@code store=redis}: {@code redis://[user:password@]host[:port][/database]}, {@code rediss://} for TLS. */
    public static final String IDEMPOTENCY_REDIS_URL = "courier.reliability.idempotency.redis-url";
    /** Prefix of every Redis key of {@code store=redis}. Default {@code courier:idem:}. */
    public static final String IDEMPOTENCY_REDIS_KEY_PREFIX = "courier.reliability.idempotency.redis-key-prefix";
    /** JDBC URL of {@code store=jdbc}, e.g. {@code jdbc:postgresql://host:5432/db}; the driver must be on the class path. */
    public static final String IDEMPOTENCY_JDBC_URL = "courier.reliability.idempotency.jdbc-url";
    /** Database user of {@code store=jdbc}. Default none (the URL or the driver decides). */
    public static final String IDEMPOTENCY_JDBC_USER = "courier.reliability.idempotency.jdbc-user";
    /** Database password of {@code store=jdbc}; never logged. Default none. */
    public static final String IDEMPOTENCY_JDBC_PASSWORD = "courier.reliability.idempotency.jdbc-password";
    /** Table of {@code store=jdbc}, optionally {@code schema.table}. Default {@code courier_idempotency}. */
    public static final String IDEMPOTENCY_JDBC_TABLE = "courier.reliability.idempotency.jdbc-table";
    /** Whether {@code store=jdbc} creates its table if missing (needs the right to). Default false. */
    public static final String IDEMPOTENCY_JDBC_CREATE_TABLE = "courier.reliability.idempotency.jdbc-create-table";
    /** Connections {@code store=jdbc} keeps open, 1 to 100. Default 4. */
    public static final String IDEMPOTENCY_JDBC_POOL_SIZE = "courier.reliability.idempotency.jdbc-pool-size";
    /** Claim lease. Default 5m. */
    public static final String IDEMPOTENCY_LEASE = "courier.reliability.idempotency.lease";
    /** How long processed keys are remembered. Default 1d (use {@code 24h} or {@code P1D}). */
    public static final String IDEMPOTENCY_RETENTION = "courier.reliability.idempotency.retention";
    /** Keys the in-memory store holds at most. Default 100000. */
    public static final String IDEMPOTENCY_MAX_ENTRIES = "courier.reliability.idempotency.max-entries";
    /** Redelivery delay of a duplicate still being processed elsewhere. Default 5s. */
    public static final String IDEMPOTENCY_IN_PROGRESS_DELAY = "courier.reliability.idempotency.in-progress-retry-delay";

    private final RetryPolicy retry;
    private final Duration handlerTimeout;
    private final CircuitBreakerPolicy breakerPolicy;
    private final Idempotency idempotency;
    /** The store {@link #fromConfig} opened, closed by {@link #close()}; {@code null} for one given in code. */
    private final IdempotencyStore ownedStore;
    private final Map<String, SubscriptionBreaker> breakers = new ConcurrentHashMap<>();
    private final Map<String, Instant> firstFailures = new ConcurrentHashMap<>();

    private Reliability(Builder b) {
        this.ownedStore = b.ownedStore;
        this.retry = b.retry;
        this.handlerTimeout = b.handlerTimeout;
        this.breakerPolicy = b.breaker;
        this.idempotency = b.idempotency;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The policy the {@code courier.reliability.*} keys of {@code config} describe (each key and its
     * default: see the constants of this class and docs/reliability.md). Retry is always on; the
     * circuit breaker when a {@code circuit-breaker.*} key is set; idempotency when
     * {@code idempotency.store} is {@code memory}, {@code redis} or {@code jdbc}. A Redis or JDBC
     * store is connected here and belongs to the policy: {@link #close()} closes it.
     *
     * @throws dev.courier.ConfigurationException naming the key and value that are invalid, or a
     *         {@code courier.reliability.*} key the policy does not read, with the nearest valid one
     */
    public static Reliability fromConfig(CourierConfig config) {
        return ReliabilityConfig.read(config);
    }

    /** The retry policy, or {@code null} when failures are left to the subscription's own redelivery policy. */
    public RetryPolicy retry() {
        return retry;
    }

    /** The handler timeout per attempt, or {@code null} for none. */
    public Duration handlerTimeout() {
        return handlerTimeout;
    }

    /** The circuit-breaker policy, or {@code null} for none. */
    public CircuitBreakerPolicy circuitBreaker() {
        return breakerPolicy;
    }

    /** The idempotency settings, or {@code null} for none. */
    public Idempotency idempotency() {
        return idempotency;
    }

    /**
     * Closes the idempotency store if this policy opened it from configuration
     * ({@link #fromConfig}: its Redis client or JDBC connections); a store given in code belongs to
     * its creator and stays open. A Courier that installed the policy from configuration calls this
     * when it closes. Idempotent.
     */
    @Override
    public void close() {
        if (ownedStore != null) {
            ownedStore.close();
        }
    }

    @Override
    public CompletionStage<Outcome> intercept(Chain chain) {
        Delivery d = chain.delivery();
        if (idempotency != null) {
            return idempotent(chain, d);
        }
        return withRetry(chain, d);
    }

    // ---------------------------------------------------------------- idempotency

    private CompletionStage<Outcome> idempotent(Chain chain, Delivery d) {
        IdempotencyStore store = idempotency.store();
        String key;
        try {
            key = idempotency.keyOf(d.group(), d.message());
        } catch (RuntimeException e) {
            return done(Outcome.deadLetter("no idempotency key: " + describe(e), e));
        }
        String owner = UUID.randomUUID().toString();
        IdempotencyStore.Claim claim;
        try {
            claim = store.claim(key, owner, idempotency.lease());
        } catch (IllegalArgumentException e) {
            // the store refuses this key (e.g. too long): redelivering cannot help
            return done(Outcome.deadLetter("invalid idempotency key: " + describe(e), e));
        } catch (RuntimeException e) {
            log.warn("idempotency store failed to claim '{}' for message {} on '{}'; not processing it now, redelivering after {}",
                    key, d.message().id(), d.topic(), idempotency.inProgressRetryDelay(), e);
            return done(Outcome.nack(idempotency.inProgressRetryDelay()));
        }
        switch (claim) {
            case DONE -> {
                report(chain, l -> l.duplicateSkipped(d, key, false));
                return done(Outcome.ack());
            }
            case IN_PROGRESS -> {
                report(chain, l -> l.duplicateSkipped(d, key, true));
                return done(Outcome.nack(idempotency.inProgressRetryDelay()));
            }
            case ACQUIRED -> {
                // processed below
            }
            default -> throw new IllegalStateException("unknown claim " + claim);
        }
        CompletableFuture<Outcome> result;
        try {
            result = withRetry(chain, d).toCompletableFuture();
        } catch (RuntimeException | Error e) {
            result = CompletableFuture.completedFuture(Outcome.failed(e));
        }
        if (result.isDone()) {
            return done(settleClaim(store, key, owner, outcomeOf(result)));
        }
        Executor ex = chain.executor();
        // store calls block: make them on the handler executor, not on whichever thread completed the stage
        return result.handleAsync((o, e) -> settleClaim(store, key, owner, o != null ? o : Outcome.failed(unwrap(e))),
                r -> Timers.execute(ex, r, r));
    }

    private Outcome settleClaim(IdempotencyStore store, String key, String owner, Outcome o) {
        if (o.kind() == Outcome.Kind.ACK) {
            try {
                if (!store.complete(key, owner, idempotency.retention())) {
                    log.warn("the idempotency lease on '{}' ran out before processing finished; another consumer may have processed it too."
                            + " Raise the lease (now {})", key, idempotency.lease());
                }
            } catch (RuntimeException e) {
                // the handler's work is done: acking loses nothing, a redelivery would do it twice
                log.error("idempotency store failed to complete '{}'; acking anyway, a later duplicate may be processed again", key, e);
            }
        } else {
            try {
                store.release(key, owner);
            } catch (RuntimeException e) {
                log.warn("idempotency store failed to release '{}'; it can be claimed again when its lease ends", key, e);
            }
        }
        return o;
    }

    // ---------------------------------------------------------------- circuit breaker and retry

    private CompletionStage<Outcome> withRetry(Chain chain, Delivery d) {
        CompletableFuture<Outcome> result = new CompletableFuture<>();
        SubscriptionBreaker breaker = breakerFor(chain);
        attempt(chain, d, breaker, 1, result);
        return result;
    }

    private SubscriptionBreaker breakerFor(Chain chain) {
        if (breakerPolicy == null) {
            return null;
        }
        Subscribe spec = chain.subscription();
        String name = "courier:" + spec.topic() + ":" + (spec.group() == null ? "*" : spec.group());
        SubscriptionBreaker b = breakers.computeIfAbsent(name, n -> new SubscriptionBreaker(n, spec, breakerPolicy));
        b.register(chain);
        return b;
    }

    /** Runs in-process attempt {@code n} once the breaker admits it, then decides what follows. */
    private void attempt(Chain chain, Delivery d, SubscriptionBreaker breaker, int n, CompletableFuture<Outcome> result) {
        if (breaker == null) {
            run(chain, d, null, n, result);
        } else {
            breaker.admit(chain.executor(), chain.flow(), () -> run(chain, d, breaker, n, result),
                    () -> result.complete(Outcome.nack(null))); // closing: leave it to the broker
        }
    }

    private void run(Chain chain, Delivery d, SubscriptionBreaker breaker, int n, CompletableFuture<Outcome> result) {
        long start = System.nanoTime();
        CompletableFuture<Outcome> stage;
        try {
            stage = timed(chain, d).toCompletableFuture();
        } catch (RuntimeException | Error e) {
            stage = CompletableFuture.completedFuture(Outcome.failed(e));
        }
        BiConsumer<Outcome, Throwable> next = (o, e) -> {
            Outcome out = o != null ? o : Outcome.failed(e != null ? unwrap(e)
                    : new IllegalStateException("the handler chain completed with a null outcome"));
            // classified once, before anything else: a throwing retryOn predicate must not skip the breaker's record
            boolean retryable = out.kind() == Outcome.Kind.FAILED && isRetryable(out.cause(), d);
            try {
                if (breaker != null) {
                    breaker.record(start, breakerResult(out, retryable), out.cause());
                }
                Outcome settled = chain.settlement();
                if (settled != null) {
                    settledByHandler(d, settled, result);
                } else {
                    decide(chain, d, breaker, n, out, retryable, result);
                }
            } catch (RuntimeException | Error x) {
                log.error("the reliability policy failed deciding on {}; redelivering it", d, x);
                result.complete(Outcome.nack(null));
            }
        };
        if (stage.isDone()) {
            Outcome o = null;
            Throwable e = null;
            try {
                o = stage.join();
            } catch (CompletionException | java.util.concurrent.CancellationException x) {
                e = x;
            }
            next.accept(o, e);
        } else {
            stage.whenComplete(next);
        }
    }

    private static SubscriptionBreaker.Result breakerResult(Outcome o, boolean retryable) {
        if (o.kind() != Outcome.Kind.FAILED) {
            return SubscriptionBreaker.Result.SUCCESS;
        }
        // a failure that is the message's own fault says nothing about the downstream the breaker guards
        return retryable ? SubscriptionBreaker.Result.FAILURE : SubscriptionBreaker.Result.IGNORED;
    }

    /**
     * Whether a failure is worth another attempt: the retry policy decides, and without one only
     * non-retryable and undecodable failures are not. A {@code retryOn} predicate that throws is a bug
     * of its own, logged; the failure then counts as retryable, the default for failures.
     */
    private boolean isRetryable(Throwable cause, Delivery d) {
        try {
            if (retry == null) {
                return !Causes.any(cause, c -> c instanceof NonRetryableException || c instanceof CodecException);
            }
            return retry.isRetryable(cause);
        } catch (RuntimeException | Error e) {
            log.warn("deciding whether the failure {} of {} can be retried threw (a bug in a retryOn predicate?); retrying it as any failure",
                    describe(cause), d, e);
            return true;
        }
    }

    /**
     * The handler (or an inner link) settled the delivery itself, e.g. {@code nack(delay)} for "not
     * now, again later": that settlement is what the broker got, so the attempt is over whatever it
     * returned. No retry runs, and idempotency goes by it (an ack completes the key, anything else
     * releases it, so the redelivery or the redriven dead letter it asked for is processed).
     */
    private void settledByHandler(Delivery d, Outcome settled, CompletableFuture<Outcome> result) {
        if (settled.kind() != Outcome.Kind.NACK) {
            forgetFirstFailure(d);
        }
        result.complete(settled);
    }

    private void decide(Chain chain, Delivery d, SubscriptionBreaker breaker, int n, Outcome out, boolean retryable,
                        CompletableFuture<Outcome> result) {
        if (out.kind() != Outcome.Kind.FAILED || retry == null) {
            if (out.kind() == Outcome.Kind.ACK) {
                forgetFirstFailure(d);
            }
            result.complete(out);
            return;
        }
        Throwable cause = out.cause();
        int total = (Math.max(1, d.attempt()) - 1) * retry.attempts() + n;
        Instant first = rememberFirstFailure(failureKey(d), d);
        if (!retryable) {
            forgetFirstFailure(d);
            result.complete(deadLetter(reasonFor(cause), cause, total, first));
            return;
        }
        if (n < retry.attempts()) {
            Duration backoff = retry.backoffAfter(n);
            report(chain, l -> l.retrying(d, total, backoff, true, cause));
            attemptAfter(backoff, chain, d, breaker, n + 1, result);
            return;
        }
        int stage = Math.max(1, d.attempt()) - 1;
        if (stage < retry.redeliverAfter().size()) {
            Duration delay = retry.redeliverAfter().get(stage);
            report(chain, l -> l.retrying(d, total, delay, false, cause));
            result.complete(Outcome.nack(delay));
            return;
        }
        forgetFirstFailure(d);
        result.complete(deadLetter("gave up after " + total + " attempt(s): " + describe(cause), cause, total, first));
    }

    /**
     * Runs attempt {@code n} after {@code backoff}, unless the subscription closes first: the delivery
     * is then given back to the broker (a nack with the backoff) as soon as the close starts, so the
     * close does not wait for a backoff after which the attempt would not run anyway.
     */
    private void attemptAfter(Duration backoff, Chain chain, Delivery d, SubscriptionBreaker breaker, int n,
                              CompletableFuture<Outcome> result) {
        Runnable giveBack = () -> result.complete(Outcome.nack(backoff));
        Runnable cancelGiveBack = chain.flow().onClose(giveBack);
        ScheduledFuture<?> timer = Timers.later(backoff, chain.executor(), () -> {
            cancelGiveBack.run();
            // the executor is the Courier's: it still runs tasks once this subscription closed and gave the message back
            if (chain.flow().isClosed()) {
                giveBack.run();
            } else {
                attempt(chain, d, breaker, n, result);
            }
        }, () -> {
            cancelGiveBack.run();
            giveBack.run();
        });
        // given back by a close that started before the timer existed: it has nothing left to do
        result.whenComplete((o, e) -> {
            if (!timer.isDone()) {
                cancelGiveBack.run();
                timer.cancel(false);
            }
        });
    }

    private static Outcome deadLetter(String reason, Throwable cause, int attempts, Instant firstFailure) {
        return Outcome.deadLetter(reason, cause).withDeadLetterHeaders(Map.of(
                HeaderNames.DLQ_ATTEMPTS, Integer.toString(attempts),
                HeaderNames.DLQ_FIRST_FAILURE, firstFailure.toString()));
    }

    private static String failureKey(Delivery d) {
        return d.topic() + "|" + d.group() + "|" + d.message().id();
    }

    /** When this message first failed here (or, if it says so in a header, anywhere); remembered for a bounded number of messages. */
    private Instant rememberFirstFailure(String key, Delivery d) {
        Instant now = Instant.now();
        String header = d.message().header(HeaderNames.FIRST_FAILURE);
        if (header != null) {
            try {
                now = Instant.parse(header);
            } catch (RuntimeException ignored) {
                // not ours to judge; use the local time
            }
        }
        if (firstFailures.size() >= FIRST_FAILURES_REMEMBERED) {
            // bounded: forget some (a later dead letter of those says its first failure was its last delivery's)
            var it = firstFailures.keySet().iterator();
            for (int i = 0; i < FIRST_FAILURES_REMEMBERED / 10 && it.hasNext(); i++) {
                it.next();
                it.remove();
            }
        }
        Instant first = firstFailures.putIfAbsent(key, now);
        return first != null ? first : now;
    }

    private void forgetFirstFailure(Delivery d) {
        if (!firstFailures.isEmpty()) {
            firstFailures.remove(failureKey(d));
        }
    }

    // ---------------------------------------------------------------- handler timeout

    private CompletionStage<Outcome> timed(Chain chain, Delivery d) {
        if (handlerTimeout == null) {
            return chain.proceed(d);
        }
        CompletableFuture<Outcome> out = new CompletableFuture<>();
        Executor ex = chain.executor();
        Runnable expire = () -> {
            if (out.complete(Outcome.failed(timeoutOf(d)))) {
                report(chain, l -> l.handlerTimedOut(d, handlerTimeout));
            }
        };
        TimedAttempt attempt = new TimedAttempt(Thread.currentThread(), () -> Timers.execute(ex, expire, expire));
        ScheduledFuture<?> timer = Timers.schedule(handlerTimeout, attempt::expire);
        CompletionStage<Outcome> stage;
        try {
            stage = chain.proceed(d);
        } finally {
            if (attempt.returned()) {
                // the handler ran past its timeout on this thread: whatever it returned, the attempt failed
                expire.run();
            }
        }
        if (out.isDone()) {
            return out;
        }
        stage.whenComplete((o, e) -> {
            timer.cancel(false);
            out.complete(o != null ? o : Outcome.failed(e != null ? unwrap(e) : new IllegalStateException("null outcome")));
        });
        return out;
    }

    private HandlerTimeoutException timeoutOf(Delivery d) {
        return new HandlerTimeoutException("handler did not finish message " + d.message().id() + " on '" + d.topic() + "' within "
                + handlerTimeout.toMillis() + " ms", handlerTimeout);
    }

    /**
     * One attempt under a timeout: while the handler runs on the calling thread the timer interrupts
     * that thread; once {@code proceed} returned, the timer only fails the pending stage. The
     * lock makes sure an interrupt meant for the attempt is cleared before the thread moves on.
     */
    private static final class TimedAttempt {
        private final Thread thread;
        private final Runnable expireAsync;
        private boolean returned;
        private boolean expired;

        TimedAttempt(Thread thread, Runnable expireAsync) {
            this.thread = thread;
            this.expireAsync = expireAsync;
        }

        synchronized void expire() {
            if (expired) {
                return;
            }
            expired = true;
            if (returned) {
                expireAsync.run();
            } else {
                thread.interrupt();
            }
        }

        /** Marks the synchronous part done; true if the timeout expired during it (the interrupt is then cleared). */
        synchronized boolean returned() {
            returned = true;
            if (expired) {
                Thread.interrupted();
                return true;
            }
            return false;
        }
    }

    // ---------------------------------------------------------------- small pieces

    private static void report(Chain chain, java.util.function.Consumer<CourierListener> event) {
        try {
            event.accept(chain.listener());
        } catch (RuntimeException | Error e) {
            // an Error too (a failed assertion in a test's listener): a listener never changes what happens to the message
            log.warn("a CourierListener threw; ignored", e);
        }
    }

    private static CompletionStage<Outcome> done(Outcome o) {
        return CompletableFuture.completedFuture(o);
    }

    private static Outcome outcomeOf(CompletableFuture<Outcome> f) {
        try {
            Outcome o = f.join();
            return o != null ? o : Outcome.failed(new IllegalStateException("null outcome"));
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            return Outcome.failed(unwrap(e));
        }
    }

    private static String reasonFor(Throwable cause) {
        CodecException codec = Causes.find(cause, CodecException.class);
        return codec != null ? "undecodable payload: " + codec.getMessage() : "non-retryable failure: " + describe(cause);
    }

    private static String describe(Throwable t) {
        return t.getClass().getSimpleName() + (t.getMessage() != null ? ": " + t.getMessage() : "");
    }

    private static Throwable unwrap(Throwable e) {
        for (int depth = 0; depth < Causes.MAX_DEPTH && (e instanceof CompletionException || e instanceof ExecutionException)
                && e.getCause() != null; depth++) {
            e = e.getCause();
        }
        return e;
    }

    @Override
    public String toString() {
        return "Reliability{idempotency=" + idempotency + ", circuitBreaker=" + breakerPolicy + ", retry=" + retry
                + ", handlerTimeout=" + handlerTimeout + '}';
    }

    /** Builds a {@link Reliability}; every part is optional. Not thread-safe. */
    public static final class Builder {
        private RetryPolicy retry;
        private Duration handlerTimeout;
        private CircuitBreakerPolicy breaker;
        private Idempotency idempotency;
        private IdempotencyStore ownedStore;

        private Builder() {
        }

        /** Retries failed attempts as {@code policy} says; without it failures go to the subscription's own redelivery policy. */
        public Builder retry(RetryPolicy policy) {
            this.retry = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Counts an attempt that runs longer than {@code timeout} as failed; see the class comment for
         * what happens to the handler.
         *
         * @throws IllegalArgumentException if {@code timeout} is not positive
         */
        public Builder handlerTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("handler timeout must be positive, was " + timeout);
            }
            this.handlerTimeout = timeout;
            return this;
        }

        /** Puts a circuit breaker around each subscription's handler. */
        public Builder circuitBreaker(CircuitBreakerPolicy policy) {
            this.breaker = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** Skips messages already processed, as {@code idempotency} says. */
        public Builder idempotency(Idempotency idempotency) {
            this.idempotency = Objects.requireNonNull(idempotency, "idempotency");
            return this;
        }

        /** The store the policy opened itself and closes with {@link Reliability#close()}. */
        Builder ownedStore(IdempotencyStore store) {
            this.ownedStore = store;
            return this;
        }

        public Reliability build() {
            return new Reliability(this);
        }
    }
}
