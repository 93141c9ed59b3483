package dev.courier;

/**
 * One guarantee or feature a binding may declare. The contract suite runs the cases that need a
 * capability only on bindings that declare it, and the capability table in
 * {@code docs/capabilities.md} is generated from the same declarations.
 */
public enum Capability {
    PERSISTENCE("Messages survive the broker restarting and wait for consumers that are offline."),
    CONSUMER_GROUPS("Subscribers of one group share the messages (competing consumers)."),
    BROADCAST("A subscription without a group receives every message published after it started."),
    LATE_GROUP_RECEIVES_EARLIER("A group that subscribes after messages were published still receives them."),
    PER_KEY_ORDER("Messages with the same key are handled one at a time, in publish order."),
    REDELIVERY("A failed or nacked message is delivered again, with an attempt count."),
    NATIVE_DELAYED_REDELIVERY("The broker itself holds a nacked message for the requested delay."),
    ORDERED_DELAYED_REDELIVERY("A message waiting for a delayed redelivery holds back later messages of its key."),
    DEAD_LETTER("Messages that cannot be processed go to a dead-letter destination with failure headers."),
    REQUEST_REPLY("Request-reply with correlation and timeout."),
    NATIVE_REQUEST_REPLY("Request-reply uses the broker's own reply mechanism (inbox, direct reply-to)."),
    NO_RESPONDER_DETECTION("A request to a destination without a responder fails at once instead of timing out."),
    REPLAY("A subscription can start from the earliest retained message or a point in time."),
    AT_LEAST_ONCE("A message acknowledged by publish is delivered at least once to each group, even across consumer crashes."),
    PUBLISH_CONFIRMS("publish() completes only when the broker has confirmed it stored the message.");

    private final String description;

    Capability(String description) {
        this.description = description;
    }

    /** One sentence saying what a binding that declares this guarantees. */
    public String description() {
        return description;
    }
}
