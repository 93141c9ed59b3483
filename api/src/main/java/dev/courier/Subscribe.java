package dev.courier;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What to subscribe to and how: topic, group, concurrency, ordering, in-flight bound, start
 * position, redelivery and dead-letter settings. Immutable; every {@code with}-style method
 * returns a new instance, so a spec can be shared and refined.
 *
 * <pre>{@code
 * Subscribe.to("orders").group("inventory").concurrency(8).ordering(Ordering.BY_KEY)
 * }</pre>
 *
 * <p>A group shares messages among its subscribers (competing consumers); without a group every
 * subscription receives every message published after it started (broadcast).
 */
public final class Subscribe {

    /** Default number of handlers that may run at once per subscription. */
    public static final int DEFAULT_CONCURRENCY = 1;
    /** Largest accepted concurrency. */
    public static final int MAX_CONCURRENCY = 10_000;
    /** Default bound on messages received but not yet settled. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 256;
    /** Default number of deliveries before a failing message is dead-lettered. */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    /** Default delay before a failed message is delivered again. */
    public static final Duration DEFAULT_REDELIVERY_DELAY = Duration.ofSeconds(1);
    /** Default time close() waits for running handlers. */
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);

    private final String topic;
    private String group;
    private int concurrency = DEFAULT_CONCURRENCY;
    private Ordering ordering = Ordering.BY_KEY;
    private int maxInFlight = -1;
    private StartPosition start = StartPosition.defaults();
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration redeliveryDelay = DEFAULT_REDELIVERY_DELAY;
    private String deadLetterTopic;
    private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
    private List<Object> bindingOptions = List.of();

    private Subscribe(String topic) {
        this.topic = Destinations.checkTopic(topic);
    }

    /** A subscription to {@code topic}, broadcast until {@link #group(String)} is set. */
    public static Subscribe to(String topic) {
        return new Subscribe(topic);
    }

    private Subscribe copy() {
        Subscribe s = new Subscribe(topic);
        s.group = group;
        s.concurrency = concurrency;
        s.ordering = ordering;
        s.maxInFlight = maxInFlight;
        s.start = start;
        s.maxAttempts = maxAttempts;
        s.redeliveryDelay = redeliveryDelay;
        s.deadLetterTopic = deadLetterTopic;
        s.drainTimeout = drainTimeout;
        s.bindingOptions = bindingOptions;
        return s;
    }

    /** Joins the group {@code group}: its subscribers share the messages. */
    public Subscribe group(String group) {
        Subscribe s = copy();
        s.group = Destinations.checkGroup(group);
        return s;
    }

    /** How many handlers may run at once, 1 to {@value #MAX_CONCURRENCY}. */
    public Subscribe concurrency(int concurrency) {
        if (concurrency < 1 || concurrency > MAX_CONCURRENCY) {
            throw new IllegalArgumentException("concurrency must be between 1 and " + MAX_CONCURRENCY + ", was " + concurrency);
        }
        Subscribe s = copy();
        s.concurrency = concurrency;
        return s;
    }

    /**
     * How this subscription orders its handlers ({@link Ordering#BY_KEY} by default). The order is
     * the subscription's own, kept by its dispatcher on every binding: the members of one group may
     * ask for different orderings, and none imposes its own on the others.
     */
    public Subscribe ordering(Ordering ordering) {
        Subscribe s = copy();
        s.ordering = Objects.requireNonNull(ordering, "ordering");
        return s;
    }

    /**
     * Bound on messages received from the broker but not yet settled (running plus waiting behind
     * their key). A value below the concurrency is raised to it (each running handler holds one).
     * Default {@value #DEFAULT_MAX_IN_FLIGHT}, or the concurrency if larger.
     */
    public Subscribe maxInFlight(int maxInFlight) {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be >= 1, was " + maxInFlight);
        }
        Subscribe s = copy();
        s.maxInFlight = maxInFlight;
        return s;
    }

    public Subscribe startFrom(StartPosition start) {
        Subscribe s = copy();
        s.start = Objects.requireNonNull(start, "start");
        return s;
    }

    /** Deliveries before a failing message is dead-lettered, 1 to 1000; default {@value #DEFAULT_MAX_ATTEMPTS}. */
    public Subscribe maxAttempts(int maxAttempts) {
        if (maxAttempts < 1 || maxAttempts > 1000) {
            throw new IllegalArgumentException("maxAttempts must be between 1 and 1000, was " + maxAttempts);
        }
        Subscribe s = copy();
        s.maxAttempts = maxAttempts;
        return s;
    }

    /** Delay before a failed message is delivered again; zero or more. */
    public Subscribe redeliveryDelay(Duration delay) {
        if (delay == null || delay.isNegative()) {
            throw new IllegalArgumentException("redeliveryDelay must be zero or positive, was " + delay);
        }
        Subscribe s = copy();
        s.redeliveryDelay = delay;
        return s;
    }

    /**
     * Where dead letters go; default {@code <topic>.<group>.dlq} ({@code <topic>.dlq} without a
     * group). Creating a subscription whose default would be longer than
     * {@link Destinations#MAX_LENGTH} fails with a {@link ConfigurationException}: name one here
     * then, or shorten the topic or group.
     */
    public Subscribe deadLetterTopic(String deadLetterTopic) {
        Subscribe s = copy();
        s.deadLetterTopic = Destinations.checkTopic(deadLetterTopic);
        return s;
    }

    /** How long close() waits for running handlers before giving up on them. */
    public Subscribe drainTimeout(Duration drainTimeout) {
        if (drainTimeout == null || drainTimeout.isNegative()) {
            throw new IllegalArgumentException("drainTimeout must be zero or positive, was " + drainTimeout);
        }
        Subscribe s = copy();
        s.drainTimeout = drainTimeout;
        return s;
    }

    /**
     * Adds a binding-specific option object (for example a RabbitMQ binding pattern); bindings
     * read the types they know and ignore the rest.
     */
    public Subscribe with(Object bindingOption) {
        Subscribe s = copy();
        List<Object> all = new ArrayList<>(bindingOptions);
        all.add(Objects.requireNonNull(bindingOption, "bindingOption"));
        s.bindingOptions = List.copyOf(all);
        return s;
    }

    public String topic() {
        return topic;
    }

    /** The group, or {@code null} for a broadcast subscription. */
    public String group() {
        return group;
    }

    public boolean isBroadcast() {
        return group == null;
    }

    public int concurrency() {
        return concurrency;
    }

    public Ordering ordering() {
        return ordering;
    }

    public int maxInFlight() {
        return maxInFlight > 0 ? Math.max(maxInFlight, concurrency) : Math.max(DEFAULT_MAX_IN_FLIGHT, concurrency);
    }

    public StartPosition startFrom() {
        return start;
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    public Duration redeliveryDelay() {
        return redeliveryDelay;
    }

    public String deadLetterTopic() {
        return deadLetterTopic != null ? deadLetterTopic : Destinations.deadLetterTopic(topic, group);
    }

    public Duration drainTimeout() {
        return drainTimeout;
    }

    public List<Object> bindingOptions() {
        return bindingOptions;
    }

    /** The first binding option of {@code type}, if any. */
    public <T> Optional<T> bindingOption(Class<T> type) {
        for (Object o : bindingOptions) {
            if (type.isInstance(o)) {
                return Optional.of(type.cast(o));
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "Subscribe{topic=" + topic + ", group=" + (group == null ? "<broadcast>" : group) + ", concurrency=" + concurrency
                + ", ordering=" + ordering + ", maxInFlight=" + maxInFlight() + ", start=" + start + ", maxAttempts=" + maxAttempts
                + ", redeliveryDelay=" + redeliveryDelay + ", deadLetterTopic=" + deadLetterTopic() + '}';
    }
}
