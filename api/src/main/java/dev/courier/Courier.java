package dev.courier;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.internal.CourierCore;
import dev.courier.internal.InterceptorProviders;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The entry point: one connection to one broker, chosen by the URL's scheme ({@code mem://},
 * {@code kafka://}, {@code amqp://}, {@code amqps://}, {@code nats://}, {@code tls://}).
 *
 * <pre>{@code
 * try (Courier courier = Courier.connect("kafka://localhost:9092")) {
 *     courier.publisher().publish("orders", new OrderPlaced("o-1", 42.0)).toCompletableFuture().join();
 *     courier.subscribe(Subscribe.to("orders").group("inventory"), d -> reserve(d.payload(OrderPlaced.class)));
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} closes every subscription (draining running handlers), waits for
 * outstanding publishes, then closes the connection; operations after close throw
 * {@link ClosedException}.
 */
public final class Courier implements AutoCloseable {

    private final CourierCore core;

    private Courier(CourierCore core) {
        this.core = core;
    }

    /**
     * Connects to {@code url}; other settings come from {@link CourierConfig#load()}. A {@code null}
     * URL is refused with a {@link ConfigurationException} (use {@link #connect()} to take
     * {@code courier.url} from the environment).
     */
    public static Courier connect(String url) {
        return builder().config(CourierConfig.builder().url(url).build()).connect();
    }

    /** Connects with {@code config}. */
    public static Courier connect(CourierConfig config) {
        return builder().config(config).connect();
    }

    /** Connects with {@link CourierConfig#load()}: {@code courier.url} from system properties, environment or {@code courier.properties}. */
    public static Courier connect() {
        return builder().connect();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The shared publisher; closing it closes it for every user of this Courier. */
    public Publisher publisher() {
        return core.publisher();
    }

    /** A publisher of your own: its close() flushes only what you published through it. */
    public Publisher newPublisher() {
        return core.newPublisher();
    }

    /** Subscribes {@code handler}: return to ack, throw to report a failure. */
    public Subscription subscribe(Subscribe spec, MessageHandler handler) {
        return core.subscribe(Objects.requireNonNull(spec, "spec"), Objects.requireNonNull(handler, "handler"));
    }

    /** Broadcast subscription to {@code topic}. */
    public Subscription subscribe(String topic, MessageHandler handler) {
        return subscribe(Subscribe.to(topic), handler);
    }

    /** Subscribes an asynchronous handler; see {@link AsyncMessageHandler}. */
    public Subscription subscribeAsync(Subscribe spec, AsyncMessageHandler handler) {
        return core.subscribeAsync(Objects.requireNonNull(spec, "spec"), Objects.requireNonNull(handler, "handler"));
    }

    /** Answers requests sent to the spec's topic; use a group so several responders share them. */
    public Subscription respond(Subscribe spec, RequestHandler handler) {
        return core.respond(Objects.requireNonNull(spec, "spec"), Objects.requireNonNull(handler, "handler"));
    }

    public Requester requester() {
        return core.requester();
    }

    /** What the connected binding guarantees. */
    public Capabilities capabilities() {
        return core.capabilities();
    }

    public Codecs codecs() {
        return core.codecs();
    }

    public CourierConfig config() {
        return core.config();
    }

    /** The broker URL with its password masked. */
    public String url() {
        return core.url().toString();
    }

    public boolean isClosed() {
        return core.isClosed();
    }

    /**
     * Stops every subscription taking messages, drains them side by side, waits for outstanding
     * publishes, then closes the connection, all within one {@code courier.close.timeout}. Called
     * while another thread closes, it waits for that close to finish; called then from a handler,
     * it returns at once (the other close may be waiting for that handler to return).
     */
    @Override
    public void close() {
        core.close();
    }

    @Override
    public String toString() {
        return "Courier{" + url() + '}';
    }

    /** Builds a {@link Courier} with interceptors, a listener, codecs or a Jackson mapper of your own. Not thread-safe. */
    public static final class Builder {
        private CourierConfig config;
        private final List<Interceptor> interceptors = new ArrayList<>();
        private CourierListener listener = CourierListener.NONE;
        private Codecs codecs;
        private ObjectMapper objectMapper;

        private Builder() {
        }

        public Builder config(CourierConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            return this;
        }

        /** Connects to {@code url}, other settings from {@link CourierConfig#load()}; {@code null} is refused with a {@link ConfigurationException}. */
        public Builder url(String url) {
            this.config = CourierConfig.builder().url(url).build();
            return this;
        }

        /**
         * Appends {@code interceptor} to the chain; the first added runs outermost. Interceptors
         * that configuration installs ({@link dev.courier.spi.InterceptorProvider}, e.g.
         * {@code courier.reliability.*}) come after these, unless one of the same type is added here.
         */
        public Builder interceptor(Interceptor interceptor) {
            interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
            return this;
        }

        public Builder listener(CourierListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        public Builder codecs(Codecs codecs) {
            this.codecs = codecs;
            return this;
        }

        /** Uses {@code mapper} for JSON payloads. */
        public Builder objectMapper(ObjectMapper mapper) {
            this.objectMapper = mapper;
            return this;
        }

        public Courier connect() {
            CourierConfig c = config != null ? config : CourierConfig.load();
            Codecs cs = codecs;
            if (cs == null && objectMapper != null) {
                cs = new Codecs(objectMapper, c.trustedPackages());
            }
            InterceptorProviders.Installed chain = InterceptorProviders.withConfigured(interceptors, c);
            try {
                return new Courier(new CourierCore(c, cs, chain, listener));
            } catch (RuntimeException e) {
                chain.closeOwned(); // e.g. a store the configured policy connected to
                throw e;
            }
        }
    }
}
