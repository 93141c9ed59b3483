package dev.courier.samples.payments;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The payments "database": balances and, per account, the sequence numbers already applied, updated
 * together in one step (as one transaction would). It outlives the consumers, which is what lets a
 * restarted consumer recognise a redelivered payment it applied before crashing. Thread-safe.
 */
final class Ledger {

    private final Map<String, Long> balances = new HashMap<>();
    private final Map<String, Set<Integer>> applied = new HashMap<>();
    private int appliedCount;

    /** Applies {@code p} unless its sequence number was applied to its account before; returns whether it did. */
    synchronized boolean apply(PaymentsSample.Payment p) {
        if (!applied.computeIfAbsent(p.account(), a -> new HashSet<>()).add(p.sequence())) {
            return false;
        }
        balances.merge(p.account(), p.amountCents(), Long::sum);
        appliedCount++;
        return true;
    }

    synchronized boolean isApplied(PaymentsSample.Payment p) {
        return applied.getOrDefault(p.account(), Set.of()).contains(p.sequence());
    }

    synchronized int appliedCount() {
        return appliedCount;
    }

    synchronized Map<String, Long> balances() {
        return new TreeMap<>(balances);
    }
}
