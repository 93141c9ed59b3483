package dev.courier.reliability;

import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Outcome;
import dev.courier.Subscribe;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records the listener events of a test's Courier. */
final class Events implements CourierListener {

    record Retry(String id, int attempt, Duration delay, boolean inProcess, Throwable cause) {
    }

    record Duplicate(String id, String key, boolean inProgress) {
    }

    record Transition(String from, String to) {
    }

    final List<Retry> retries = new CopyOnWriteArrayList<>();
    final List<Duplicate> duplicates = new CopyOnWriteArrayList<>();
    final List<Transition> transitions = new CopyOnWriteArrayList<>();
    final List<String> timedOut = new CopyOnWriteArrayList<>();
    final List<String> deadLettered = new CopyOnWriteArrayList<>();
    final List<String> acked = new CopyOnWriteArrayList<>();
    final List<String> settled = new CopyOnWriteArrayList<>();
    final java.util.concurrent.atomic.AtomicReference<dev.courier.Subscription> watched = new java.util.concurrent.atomic.AtomicReference<>();
    final List<Boolean> pausedWhenOpened = new CopyOnWriteArrayList<>();

    @Override
    public void retrying(Delivery delivery, int attempt, Duration delay, boolean inProcess, Throwable cause) {
        retries.add(new Retry(delivery.message().id(), attempt, delay, inProcess, cause));
    }

    @Override
    public void duplicateSkipped(Delivery delivery, String idempotencyKey, boolean stillInProgress) {
        duplicates.add(new Duplicate(delivery.message().id(), idempotencyKey, stillInProgress));
    }

    @Override
    public void circuitStateChanged(Subscribe subscription, String breakerName, String fromState, String toState) {
        dev.courier.Subscription sub = watched.get();
        if (toState.equals("OPEN") && sub != null) {
            pausedWhenOpened.add(sub.isPaused());
        }
        transitions.add(new Transition(fromState, toState));
    }

    @Override
    public void handlerTimedOut(Delivery delivery, Duration timeout) {
        timedOut.add(delivery.message().id());
    }

    @Override
    public void deadLettered(Delivery delivery, String deadLetterTopic, String reason) {
        deadLettered.add(delivery.message().id());
    }

    @Override
    public void settled(Delivery delivery, Outcome outcome) {
        if (delivery.topic().endsWith(".dlq")) {
            return; // the tests' dead-letter readers
        }
        settled.add(delivery.message().id() + ":" + outcome.kind());
        if (outcome.kind() == Outcome.Kind.ACK) {
            acked.add(delivery.message().id());
        }
    }

    boolean sawTransitionTo(String state) {
        return transitions.stream().anyMatch(t -> t.to().equals(state));
    }

    @Override
    public String toString() {
        return "Events{retries=" + retries.size() + ", duplicates=" + duplicates + ", transitions=" + transitions + ", timedOut=" + timedOut
                + ", deadLettered=" + deadLettered + ", settled=" + settled + '}';
    }
}
