package dev.courier.reliability.deadletter;

import java.util.Map;

/**
 * What one redrive did. Immutable.
 *
 * @param redriven dead letters published to their destination (confirmed) and removed from the dead-letter destination
 * @param skipped  dead letters the filter did not select; they stay in the dead-letter destination
 * @param failed   dead letters that could not be redriven (no original topic, filter threw, publish failed); they stay too
 * @param failures why each failed one failed, by dead-letter message id
 */
public record RedriveResult(int redriven, int skipped, int failed, Map<String, String> failures) {

    public RedriveResult {
        failures = Map.copyOf(failures);
    }

    /** Dead letters looked at: redriven, skipped and failed together. */
    public int total() {
        return redriven + skipped + failed;
    }
}
