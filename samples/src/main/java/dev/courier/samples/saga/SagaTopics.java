package dev.courier.samples.saga;

/** The topics of one saga run; a fresh prefix per run keeps runs on a shared broker apart. */
record SagaTopics(String prefix, String orders, String inventory, String payments, String outcomes) {

    static SagaTopics withPrefix(String prefix) {
        return new SagaTopics(prefix, prefix + ".orders", prefix + ".inventory", prefix + ".payments", prefix + ".outcomes");
    }

    /** {@code topic} without this run's prefix, for the timeline ({@code orders.inventory.dlq}). */
    String shortName(String topic) {
        return topic != null && topic.startsWith(prefix + ".") ? topic.substring(prefix.length() + 1) : topic;
    }
}
