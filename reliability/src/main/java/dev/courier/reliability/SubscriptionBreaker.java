package dev.courier.reliability;

import dev.courier.CourierListener;
import dev.courier.Interceptor;
import dev.courier.Subscribe;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.IllegalStateTransitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The circuit breaker of one subscription (topic and group) and the deliveries it holds.
 *
 * <p>An attempt runs only with a permission of the breaker. Without one (open, or half-open with
 * its trial calls taken) the attempt is held: queued, with no thread waiting, and admitted again
 * whenever something changes (a state transition or a finished trial call). Opening pauses every
 * subscription that uses the breaker; half-open and closed resume them. A wake-up timer moves an
 * open breaker to half-open after its wait, so every pause has a resume. The breaker's pause is its
 * own ({@link Interceptor.Flow}): its resume does not undo a pause of the application's.
 *
 * <p>A closed subscription is forgotten: its held deliveries are given back to the broker rather
 * than run (its handler must not run after its close), as soon as its close starts
 * ({@link Interceptor.Flow#onClose}) so the close does not wait for the breaker to half-open, and
 * it is no longer paused, resumed or told about transitions.
 */
final class SubscriptionBreaker {

    private static final Logger log = LoggerFactory.getLogger(SubscriptionBreaker.class);

    private final CircuitBreaker breaker;
    private final CircuitBreakerPolicy policy;
    private final Subscribe spec;
    /** The subscriptions using this breaker, each with its Courier's listener. */
    private final Map<Interceptor.Flow, CourierListener> users = new ConcurrentHashMap<>();
    private final Queue<Held> held = new ConcurrentLinkedQueue<>();
    private final AtomicLong changes = new AtomicLong();
    private final AtomicInteger timesOpened = new AtomicInteger();

    /** A held attempt; compared by identity, so a close gives back exactly the ones it finds queued. */
    private static final class Held {
        final Executor executor;
        final Interceptor.Flow flow;
        final Runnable attempt;
        final Runnable rejected;
        /** Cancels the give-back registered with the flow while queued; set before each queueing, read after it. */
        Runnable cancelGiveBack = () -> { };

        Held(Executor executor, Interceptor.Flow flow, Runnable attempt, Runnable rejected) {
            this.executor = executor;
            this.flow = flow;
            this.attempt = attempt;
            this.rejected = rejected;
        }
    }

    SubscriptionBreaker(String name, Subscribe spec, CircuitBreakerPolicy policy) {
        this.breaker = CircuitBreaker.of(name, policy.config());
        this.policy = policy;
        this.spec = spec;
        breaker.getEventPublisher().onStateTransition(e -> onTransition(e.getStateTransition()));
    }

    CircuitBreaker breaker() {
        return breaker;
    }

    /** Remembers the flow and listener of a chain that uses this breaker; pauses the flow if the breaker is open. */
    void register(Interceptor.Chain chain) {
        Interceptor.Flow flow = chain.flow();
        if (users.putIfAbsent(flow, chain.listener()) == null) {
            users.keySet().removeIf(Interceptor.Flow::isClosed);
            if (isOpen()) {
                flow.pause();
            }
        }
    }

    /**
     * Runs {@code attempt} now if the breaker permits a call, else holds it until it does.
     * {@code rejected} runs instead if the subscription of {@code flow} closed meanwhile, or if the
     * executor refuses the held attempt (the Courier is closing). The attempt must end with {@link #record}.
     */
    void admit(Executor executor, Interceptor.Flow flow, Runnable attempt, Runnable rejected) {
        admit(new Held(executor, flow, attempt, rejected), false);
    }

    private void admit(Held h, boolean wasHeld) {
        if (wasHeld && h.flow.isClosed()) {
            h.rejected.run(); // its subscription closed while it was held: it is the broker's again, not the handler's
            return;
        }
        long seen = changes.get();
        if (breaker.tryAcquirePermission()) {
            h.attempt.run();
            return;
        }
        hold(h);
        if (changes.get() != seen) {
            release(); // something changed while we queued: try again rather than miss the wake-up
        }
    }

    /**
     * Queues {@code h} until the breaker changes. A close of its subscription takes it out of the
     * queue and gives it back at once: the close waits for every unsettled delivery, and a held one
     * would otherwise keep it waiting until the breaker half-opens, only to be given back then.
     */
    private void hold(Held h) {
        Runnable giveBack = () -> {
            if (held.remove(h)) {
                h.rejected.run();
            }
        };
        h.cancelGiveBack = h.flow.onClose(giveBack);
        held.add(h);
        if (h.flow.isClosed()) {
            giveBack.run(); // the close started while this was being queued, perhaps before it was in the queue to be found
        }
    }

    /** Records the end of a permitted attempt: a failure, a success, or neither (the message's own fault). */
    void record(long startNanos, Result result) {
        record(startNanos, result, null);
    }

    /** As {@link #record(long, Result)}, with the failure's cause, so the config's recordExceptions/ignoreExceptions apply. */
    void record(long startNanos, Result result, Throwable cause) {
        long took = System.nanoTime() - startNanos;
        switch (result) {
            case FAILURE -> breaker.onError(took, TimeUnit.NANOSECONDS,
                    cause != null ? cause : new RuntimeException("handler attempt failed"));
            case SUCCESS -> breaker.onSuccess(took, TimeUnit.NANOSECONDS);
            case IGNORED -> breaker.releasePermission();
            default -> throw new IllegalStateException("unknown result " + result);
        }
        changes.incrementAndGet();
        if (!held.isEmpty() && !isOpen()) {
            release();
        }
    }

    /** How an attempt counts for the breaker. */
    enum Result { SUCCESS, FAILURE, IGNORED }

    private boolean isOpen() {
        CircuitBreaker.State s = breaker.getState();
        return s == CircuitBreaker.State.OPEN || s == CircuitBreaker.State.FORCED_OPEN;
    }

    /** Offers every held attempt a permission again, each on its own executor. */
    private void release() {
        for (int n = held.size(); n > 0; n--) {
            Held h = held.poll();
            if (h == null) {
                return;
            }
            h.cancelGiveBack.run();
            Timers.execute(h.executor, () -> admit(h, true), h.rejected);
        }
    }

    private synchronized void onTransition(CircuitBreaker.StateTransition t) {
        changes.incrementAndGet();
        log.info("circuit breaker '{}' of subscription {}: {} -> {}", breaker.getName(), spec, t.getFromState(), t.getToState());
        if (t.getToState() == CircuitBreaker.State.OPEN) {
            scheduleHalfOpen();
        } else if (t.getToState() == CircuitBreaker.State.CLOSED) {
            timesOpened.set(0); // as resilience4j: the open wait interval function starts over
        }
        // act on the state as it is now, not as the event says: events of quick successive
        // transitions may be handled out of order
        users.keySet().removeIf(Interceptor.Flow::isClosed);
        if (isOpen()) {
            users.keySet().forEach(Interceptor.Flow::pause);
        } else {
            users.keySet().forEach(Interceptor.Flow::resume);
            release();
        }
        // flows first, then listeners (each once, however many of its Courier's subscriptions use the breaker):
        // a listener sees the subscription already paused or resumed
        for (CourierListener l : new LinkedHashSet<>(users.values())) {
            try {
                l.circuitStateChanged(spec, breaker.getName(), t.getFromState().name(), t.getToState().name());
            } catch (RuntimeException | Error e) {
                log.warn("listener.circuitStateChanged threw; ignored", e);
            }
        }
    }

    /** After the open wait, moves the breaker to half-open if it is still open, so held deliveries and the paused subscription go on. */
    private void scheduleHalfOpen() {
        Timers.schedule(policy.waitInOpen(timesOpened.incrementAndGet()), () -> {
            if (breaker.getState() == CircuitBreaker.State.OPEN) {
                try {
                    breaker.transitionToHalfOpenState();
                } catch (IllegalStateTransitionException e) {
                    log.debug("breaker '{}' moved on by itself: {}", breaker.getName(), e.toString());
                }
            }
        });
    }
}
