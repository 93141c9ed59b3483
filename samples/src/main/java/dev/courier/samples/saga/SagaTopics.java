package dev.courier.samples.saga;

/** The topics of one saga run; a fresh prefix per run keeps runs on a shared broker apart. */
record SagaTopics(String orders, String inventory, String payments, String outcomes) {

    static SagaTopics withPrefix(String prefix) {
        return new SagaTopics(prefix + ".orders", prefix + ".inventory", prefix + ".payments", prefix + ".outcomes");
    }
}
