package dev.courier.rabbitmq;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * RabbitMQ routing and queue settings of one subscription, passed with
 * {@code Subscribe.with(Object)}; other bindings ignore them. Each factory returns one setting;
 * pass several, they are merged in order (later values win):
 *
 * <pre>{@code
 * Subscribe.to("orders").group("eu-billing")
 *     .with(RabbitSubscribeOptions.bindingPatterns("orders.*.eu", "orders.vip.#"))
 *     .with(RabbitSubscribeOptions.maxPriority(10))
 * }</pre>
 *
 * Immutable and thread-safe.
 */
public final class RabbitSubscribeOptions {

    /** Exchange types a topic can be declared with. */
    public enum ExchangeType {
        TOPIC, FANOUT, DIRECT, HEADERS;

        String amqpName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    final List<String> patterns;
    final ExchangeType exchangeType;
    final Map<String, Object> headersMatch;
    final boolean headersMatchAll;
    final Map<String, Object> queueArguments;
    final RabbitConfig.QueueType queueType;
    final int prefetch;

    private RabbitSubscribeOptions(List<String> patterns, ExchangeType exchangeType, Map<String, Object> headersMatch,
                                   boolean headersMatchAll, Map<String, Object> queueArguments, RabbitConfig.QueueType queueType,
                                   int prefetch) {
        this.patterns = patterns;
        this.exchangeType = exchangeType;
        this.headersMatch = headersMatch;
        this.headersMatchAll = headersMatchAll;
        this.queueArguments = queueArguments;
        this.queueType = queueType;
        this.prefetch = prefetch;
    }

    private static RabbitSubscribeOptions none() {
        return new RabbitSubscribeOptions(null, null, null, true, Map.of(), null, 0);
    }

    /**
     * Binds the subscription's queue with these routing patterns instead of {@code #} (topic
     * exchange: {@code *} one word, {@code #} zero or more words) or routing keys (direct exchange).
     * The message key is the routing key.
     */
    public static RabbitSubscribeOptions bindingPatterns(String... patterns) {
        if (patterns.length == 0) {
            throw new IllegalArgumentException("give at least one binding pattern, e.g. \"orders.*.eu\" or \"#\"");
        }
        for (String p : patterns) {
            Objects.requireNonNull(p, "binding pattern");
        }
        RabbitSubscribeOptions o = none();
        return new RabbitSubscribeOptions(List.copyOf(Arrays.asList(patterns)), null, null, true, o.queueArguments, null, 0);
    }

    /**
     * Declares the topic's exchange with this type when it does not exist yet (default
     * {@link ExchangeType#TOPIC}). If it exists with another type, subscribing fails with a
     * {@link dev.courier.ConfigurationException}.
     */
    public static RabbitSubscribeOptions exchangeType(ExchangeType type) {
        return new RabbitSubscribeOptions(null, Objects.requireNonNull(type, "type"), null, true, Map.of(), null, 0);
    }

    /** A headers exchange binding that matches messages carrying all of {@code headers} (x-match all). */
    public static RabbitSubscribeOptions headersMatchAll(Map<String, String> headers) {
        return new RabbitSubscribeOptions(null, ExchangeType.HEADERS, Collections.unmodifiableMap(new LinkedHashMap<>(headers)), true,
                Map.of(), null, 0);
    }

    /** A headers exchange binding that matches messages carrying any of {@code headers} (x-match any). */
    public static RabbitSubscribeOptions headersMatchAny(Map<String, String> headers) {
        return new RabbitSubscribeOptions(null, ExchangeType.HEADERS, Collections.unmodifiableMap(new LinkedHashMap<>(headers)), false,
                Map.of(), null, 0);
    }

    /** Raw queue arguments ({@code x-...}) added to the queue declaration; for what has no typed option. */
    public static RabbitSubscribeOptions queueArguments(Map<String, Object> arguments) {
        return new RabbitSubscribeOptions(null, null, null, true, Collections.unmodifiableMap(new LinkedHashMap<>(arguments)), null, 0);
    }

    /** Messages older than {@code ttl} are dropped from the queue ({@code x-message-ttl}). */
    public static RabbitSubscribeOptions messageTtl(Duration ttl) {
        if (ttl == null || ttl.isNegative()) {
            throw new IllegalArgumentException("message TTL must be zero or positive, was " + ttl);
        }
        return queueArguments(Map.of("x-message-ttl", ttl.toMillis()));
    }

    /** The queue holds at most {@code messages}; the oldest are dropped beyond ({@code x-max-length}). */
    public static RabbitSubscribeOptions maxLength(long messages) {
        if (messages < 0) {
            throw new IllegalArgumentException("max length must be >= 0, was " + messages);
        }
        return queueArguments(Map.of("x-max-length", messages));
    }

    /** A priority queue with priorities 0 to {@code max} ({@code x-max-priority}, classic queues only). */
    public static RabbitSubscribeOptions maxPriority(int max) {
        if (max < 1 || max > 255) {
            throw new IllegalArgumentException("max priority must be between 1 and 255, was " + max);
        }
        return queueArguments(Map.of("x-max-priority", max));
    }

    /** Only one consumer of the group's queue receives at a time; the others stand by ({@code x-single-active-consumer}). */
    public static RabbitSubscribeOptions singleActiveConsumer() {
        return queueArguments(Map.of("x-single-active-consumer", true));
    }

    /** A classic queue in lazy mode, keeping messages on disk ({@code x-queue-mode=lazy}). */
    public static RabbitSubscribeOptions lazy() {
        return queueArguments(Map.of("x-queue-mode", "lazy"));
    }

    /** The type of this subscription's group queue, instead of {@link RabbitConfig#QUEUE_TYPE}. */
    public static RabbitSubscribeOptions queueType(RabbitConfig.QueueType type) {
        return new RabbitSubscribeOptions(null, null, null, true, Map.of(), Objects.requireNonNull(type, "type"), 0);
    }

    /** The prefetch (basic.qos) of this subscription, instead of its max in flight; never below its concurrency. */
    public static RabbitSubscribeOptions prefetch(int prefetch) {
        if (prefetch < 1 || prefetch > 65_535) {
            throw new IllegalArgumentException("prefetch must be between 1 and 65535, was " + prefetch);
        }
        return new RabbitSubscribeOptions(null, null, null, true, Map.of(), null, prefetch);
    }

    /** Merges every option of {@code options} in order; later settings win, queue arguments add up. */
    static RabbitSubscribeOptions merge(List<Object> options) {
        List<String> patterns = null;
        ExchangeType type = null;
        Map<String, Object> match = null;
        boolean all = true;
        Map<String, Object> args = new LinkedHashMap<>();
        RabbitConfig.QueueType queueType = null;
        int prefetch = 0;
        for (Object option : options) {
            if (!(option instanceof RabbitSubscribeOptions o)) {
                continue;
            }
            if (o.patterns != null) {
                patterns = patterns == null ? new ArrayList<>(o.patterns) : patterns;
                if (patterns != o.patterns) {
                    for (String p : o.patterns) {
                        if (!patterns.contains(p)) {
                            patterns.add(p);
                        }
                    }
                }
            }
            if (o.exchangeType != null) {
                type = o.exchangeType;
            }
            if (o.headersMatch != null) {
                match = o.headersMatch;
                all = o.headersMatchAll;
            }
            args.putAll(o.queueArguments);
            if (o.queueType != null) {
                queueType = o.queueType;
            }
            if (o.prefetch > 0) {
                prefetch = o.prefetch;
            }
        }
        return new RabbitSubscribeOptions(patterns == null ? null : List.copyOf(patterns), type, match, all,
                Collections.unmodifiableMap(args), queueType, prefetch);
    }

    @Override
    public String toString() {
        return "RabbitSubscribeOptions{" + (patterns != null ? "patterns=" + patterns + " " : "")
                + (exchangeType != null ? "exchangeType=" + exchangeType + " " : "")
                + (headersMatch != null ? "headers(" + (headersMatchAll ? "all" : "any") + ")=" + headersMatch + " " : "")
                + (queueArguments.isEmpty() ? "" : "queueArguments=" + queueArguments + " ")
                + (queueType != null ? "queueType=" + queueType + " " : "")
                + (prefetch > 0 ? "prefetch=" + prefetch : "") + "}";
    }
}
