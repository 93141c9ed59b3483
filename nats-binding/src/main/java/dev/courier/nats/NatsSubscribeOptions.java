package dev.courier.nats;

import java.util.Objects;

/**
 * NATS-specific subscription options, passed with {@link dev.courier.Subscribe#with(Object)}; other
 * bindings ignore them. Immutable.
 *
 * <pre>{@code
 * Subscribe.to("orders").group("eu-billing").with(NatsSubscribeOptions.subjectFilter("orders.*.eu"))
 * }</pre>
 *
 * @param subjectFilter the NATS subject, wildcards {@code *} and {@code >} allowed, that the
 *                      subscription receives instead of the whole topic: the consumer's filter
 *                      subject on JetStream, the subscribed subject on core NATS. It must lie within
 *                      the topic's subjects (see {@code courier.nats.key-subject-topics}).
 */
public record NatsSubscribeOptions(String subjectFilter) {

    public NatsSubscribeOptions {
        Objects.requireNonNull(subjectFilter, "subjectFilter");
        if (subjectFilter.isBlank() || subjectFilter.contains(" ")) {
            throw new IllegalArgumentException("subjectFilter must be a NATS subject without spaces, was '" + subjectFilter + "'");
        }
    }

    /** Receives only the messages published to subjects matching {@code filter}. */
    public static NatsSubscribeOptions subjectFilter(String filter) {
        return new NatsSubscribeOptions(filter);
    }
}
