package dev.courier.testkit;

import dev.courier.Delivery;
import dev.courier.Message;
import dev.courier.MessageHandler;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/** A handler that records every delivery it gets (message and attempt), for the contract cases. Thread-safe. */
final class Received implements MessageHandler {

    /** One delivery as the handler saw it. */
    record Entry(Message message, int attempt, String group) {
    }

    private final ConcurrentLinkedQueue<Entry> entries = new ConcurrentLinkedQueue<>();
    private final Map<String, List<Integer>> attemptsById = new ConcurrentHashMap<>();

    @Override
    public void handle(Delivery delivery) {
        record(delivery);
    }

    void record(Delivery delivery) {
        Message m = delivery.message();
        entries.add(new Entry(m, delivery.attempt(), delivery.group()));
        attemptsById.computeIfAbsent(m.id(), id -> new CopyOnWriteArrayList<>()).add(delivery.attempt());
    }

    int count() {
        return entries.size();
    }

    int distinct() {
        return attemptsById.size();
    }

    Set<String> ids() {
        return Set.copyOf(attemptsById.keySet());
    }

    boolean contains(String id) {
        return attemptsById.containsKey(id);
    }

    List<Entry> entries() {
        return new ArrayList<>(entries);
    }

    List<Message> messages() {
        List<Message> out = new ArrayList<>();
        for (Entry e : entries) {
            out.add(e.message());
        }
        return out;
    }

    /** Payloads as UTF-8 text, in the order received. */
    List<String> texts() {
        List<String> out = new ArrayList<>();
        for (Entry e : entries) {
            out.add(new String(e.message().payload(), java.nio.charset.StandardCharsets.UTF_8));
        }
        return out;
    }

    Message first() {
        Entry e = entries.peek();
        if (e == null) {
            throw new AssertionError("nothing was received");
        }
        return e.message();
    }

    List<Integer> attempts(String id) {
        List<Integer> a = attemptsById.get(id);
        return a == null ? List.of() : List.copyOf(a);
    }

    /** Ids delivered more than once, with their delivery counts. */
    Map<String, Integer> duplicates() {
        Map<String, Integer> out = new TreeMap<>();
        attemptsById.forEach((id, a) -> {
            if (a.size() > 1) {
                out.put(id, a.size());
            }
        });
        return out;
    }

    String summary() {
        Map<String, Integer> dups = duplicates();
        Set<String> sample = new LinkedHashSet<>();
        for (String id : dups.keySet()) {
            if (sample.size() == 5) {
                break;
            }
            sample.add(id + "x" + dups.get(id));
        }
        return count() + " deliveries of " + distinct() + " distinct messages" + (dups.isEmpty() ? "" : ", duplicated: " + sample
                + (dups.size() > 5 ? " and " + (dups.size() - 5) + " more" : ""));
    }

    @Override
    public String toString() {
        return summary();
    }
}
