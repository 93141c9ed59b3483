package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.ClosedException;
import dev.courier.ConfigurationException;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.rabbitmq.RabbitSubscribeOptions.ExchangeType;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The {@code amqp://} binding over one auto-recovering connection: a topic is a durable topic
 * exchange, a group a durable queue {@code <topic>.<group>} bound with {@code #}, a broadcast
 * subscription an exclusive auto-delete queue. Publishes go through a pool of confirm channels (a
 * thread always uses the same one, which keeps its publish order). Thread-safe.
 */
final class RabbitBinding implements Binding {

    private static final Logger log = LoggerFactory.getLogger(RabbitBinding.class);

    static final Capabilities CAPABILITIES = Capabilities.of("rabbitmq", 128L * 1024 * 1024,
            Capability.PERSISTENCE, Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.PER_KEY_ORDER,
            Capability.REDELIVERY, Capability.NATIVE_DELAYED_REDELIVERY, Capability.DEAD_LETTER, Capability.REQUEST_REPLY,
            Capability.NATIVE_REQUEST_REPLY, Capability.NO_RESPONDER_DETECTION, Capability.AT_LEAST_ONCE,
            Capability.PUBLISH_CONFIRMS);

    /** Topics with this suffix are dead-letter topics: what is published to them is kept in a queue of the same name. */
    static final String DLQ_SUFFIX = ".dlq";
    /** A delay queue is re-declared at least this often, which keeps its idle expiry ({@code x-expires}) from deleting it. */
    private static final long DELAY_REDECLARE_NANOS = TimeUnit.MINUTES.toNanos(5);
    /** Idle time after which the broker deletes a delay queue, on top of its delay. */
    private static final long DELAY_EXPIRY_MS = TimeUnit.MINUTES.toMillis(10);

    private final BindingContext context;
    private final RabbitConfig config;
    private final Connection connection;
    private final Topology topology;
    private final ConfirmChannel[] publishers;
    private final DirectReply replies;
    private final Set<RabbitSubscription> subscriptions = ConcurrentHashMap.newKeySet();
    private final Set<String> deadLetterTopics = ConcurrentHashMap.newKeySet();
    /** Topics whose exchange was deleted while in use and declared again: publishes to them are mandatory. */
    private final Set<String> redeclared = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> delayQueues = new ConcurrentHashMap<>();
    private volatile boolean closed;

    RabbitBinding(BindingContext context, RabbitConfig config, Connection connection) {
        this.context = context;
        this.config = config;
        this.connection = connection;
        this.topology = new Topology(connection, config.provisioning());
        this.publishers = new ConfirmChannel[config.publisherChannels()];
        this.replies = new DirectReply(this);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    Connection connection() {
        return connection;
    }

    Topology topology() {
        return topology;
    }

    boolean isClosed() {
        return closed;
    }

    Executor handlerExecutor() {
        return context.handlerExecutor();
    }

    /** Where publish and reply futures are completed: never the connection's I/O thread. */
    Executor completions() {
        return context.handlerExecutor();
    }

    ScheduledExecutorService scheduler() {
        return context.scheduler();
    }

    // ------------------------------------------------------------------ publishing

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        String topic = message.topic();
        if (closed) {
            return CompletableFuture.failedFuture(new ClosedException("the RabbitMQ binding"));
        }
        String routingKey;
        AMQP.BasicProperties props;
        try {
            routingKey = MessageMapping.routingKey(message);
            props = MessageMapping.properties(message, config.persistent());
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new PublishException(topic, e.getMessage(), e, false));
        }
        try {
            topology.ensurePublishExchange(topic);
            if (topic.endsWith(DLQ_SUFFIX)) {
                // the dead-letter readers may have declared the queue with options of their own: only make sure it exists
                topology.ensureRetentionExists(topic, groupQueueArguments(null));
            }
        } catch (ConfigurationException | Topology.BrokerRefusal e) {
            return CompletableFuture.failedFuture(new PublishException(topic, e.getMessage(), e, false));
        } catch (BrokerUnavailableException e) {
            return CompletableFuture.failedFuture(new PublishException(topic, e.getMessage(), e, true));
        }
        ConfirmChannel.Pending pending = new ConfirmChannel.Pending(topic, topic, routingKey, message.id(), mandatory(message));
        return send(pending, props, message.payload()).thenApply(v -> PublishReceipt.of(message));
    }

    /**
     * The broker closed a publishing channel for a publish to {@code topic} with 404 (the channel
     * reports it): its exchange was deleted while in use (an operator, a definitions import). The next publish declares (or, with provisioning off,
     * checks) it again, and this process's subscriptions to the topic declare their queues and
     * bindings again. Subscribers elsewhere do not learn of it, so from now on publishes to the
     * topic are mandatory: one no queue takes fails with {@link UnroutableMessageException} instead
     * of being dropped.
     */
    void exchangeMissing(String topic) {
        topology.forget(topic);
        if (redeclared.add(topic)) {
            log.warn("exchange '{}' no longer exists (deleted while in use); declaring it again, with its subscriptions in this process;"
                    + " publishes to it are mandatory from now on, so none is dropped while no queue is bound", topic);
        }
        for (RabbitSubscription s : subscriptions) {
            if (s.topic().equals(topic)) {
                s.declareAgain();
            }
        }
    }

    private boolean mandatory(Message m) {
        String flag = m.header(RabbitHeaders.MANDATORY);
        if (flag != null) {
            return Boolean.parseBoolean(flag.trim());
        }
        // a dead letter must never vanish: if nothing takes it, the publish fails and the original is kept
        return config.mandatory() || deadLetterTopics.contains(m.topic()) || redeclared.contains(m.topic());
    }

    /** Publishes straight to {@code queue} through the default exchange, mandatory (redelivery copies). */
    CompletableFuture<Void> publishToQueue(String topic, String queue, AMQP.BasicProperties props, byte[] body) {
        return send(new ConfirmChannel.Pending(topic, "", queue, props.getMessageId(), true), props, body);
    }

    private CompletableFuture<Void> send(ConfirmChannel.Pending pending, AMQP.BasicProperties props, byte[] body) {
        ConfirmChannel ch;
        try {
            ch = publisherChannel();
        } catch (IOException | ShutdownSignalException e) {
            return CompletableFuture.failedFuture(new PublishException(pending.topic,
                    "no channel to publish on (" + ConfirmChannel.describe(e) + "); the connection is recovering, publish again", e, true));
        }
        return ch.publish(pending, props, body);
    }

    /** The calling thread's confirm channel: one thread always publishes on the same channel, so its order holds. */
    private ConfirmChannel publisherChannel() throws IOException {
        int i = (int) Math.floorMod(Thread.currentThread().getId(), (long) publishers.length);
        ConfirmChannel c = publishers[i];
        if (c != null && c.usable()) {
            return c;
        }
        synchronized (publishers) {
            c = publishers[i];
            if (c == null || !c.usable()) {
                if (closed) {
                    throw new IOException("the binding is closed");
                }
                if (c != null) {
                    c.close();
                }
                c = new ConfirmChannel(connection, completions(), this::exchangeMissing);
                publishers[i] = c;
            }
            return c;
        }
    }

    // ------------------------------------------------------------------ consuming

    @Override
    public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
        if (closed) {
            throw new ClosedException("the RabbitMQ binding");
        }
        RabbitSubscribeOptions o = RabbitSubscribeOptions.merge(spec.bindingOptions());
        String topic = spec.topic();
        com.rabbitmq.client.Channel ch;
        try {
            ch = connection.createChannel();
        } catch (IOException | ShutdownSignalException e) {
            throw new BrokerUnavailableException("cannot open a channel to " + context.url() + ": " + ConfirmChannel.describe(e), e);
        }
        if (ch == null) {
            throw new BrokerUnavailableException("the broker at " + context.url() + " has no channel left (channel_max reached)", null);
        }
        try {
            return subscribe(spec, processor, o, topic, ch);
        } catch (RuntimeException e) {
            try {
                if (ch.isOpen()) {
                    ch.abort();
                }
            } catch (IOException | RuntimeException ignored) {
                // already failing
            }
            throw e;
        }
    }

    private BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor, RabbitSubscribeOptions o, String topic,
                                          com.rabbitmq.client.Channel ch) {
        boolean group = spec.group() != null;
        if (group && topic.endsWith(DLQ_SUFFIX) && (o.patterns != null || o.headersMatch != null)) {
            throw new ConfigurationException("'" + topic + "' is a dead-letter topic: its groups share the queue '" + topic
                    + "' that keeps every dead letter, so binding patterns do not apply; subscribe without them");
        }
        String queue = group && topic.endsWith(DLQ_SUFFIX) ? topic
                : group ? Topology.fit(topic + "." + spec.group())
                : Topology.fit(topic + ".broadcast." + UUID.randomUUID().toString().substring(0, 13));
        RabbitSubscription.Declaration declaration = t -> declare(t, spec, o, queue);
        declaration.declare(this.topology.on(ch));
        deadLetterTopics.add(spec.deadLetterTopic());
        int base = o.prefetch > 0 ? o.prefetch : config.prefetch() > 0 ? config.prefetch() : spec.maxInFlight();
        int prefetch = Math.min(65_535, Math.max(base, spec.concurrency()));
        RabbitSubscription s = new RabbitSubscription(this, spec, processor, queue, group, prefetch, declaration);
        try {
            s.start(ch);
        } catch (IOException | ShutdownSignalException e) {
            int code = Topology.replyCode(e);
            if (code > 0) {
                throw new ConfigurationException("cannot consume from queue '" + queue + "' for topic '" + topic + "': "
                        + ConfirmChannel.describe(e), e);
            }
            throw new BrokerUnavailableException("cannot consume from queue '" + queue + "' at " + context.url() + ": "
                    + ConfirmChannel.describe(e), e);
        }
        subscriptions.add(s);
        log.debug("consuming '{}' from queue '{}' (prefetch {}, concurrency {})", topic, queue, prefetch, spec.concurrency());
        return s;
    }

    /**
     * Declares (or checks) what a subscription consumes from: its topic's exchange, its queue and
     * the queue's bindings. Runs again when the subscription consumes again after its channel was
     * closed by the broker. A refusal by the broker (403 access refused, ...) is a configuration error.
     */
    private void declare(Topology topology, Subscribe spec, RabbitSubscribeOptions o, String queue) {
        String topic = spec.topic();
        try {
            ExchangeType type = o.exchangeType != null ? o.exchangeType : ExchangeType.TOPIC;
            topology.ensureSubscribeExchange(topic, type, o.exchangeType != null);
            if (spec.group() != null && topic.endsWith(DLQ_SUFFIX)) {
                topology.ensureRetention(topic, groupQueueArguments(o));
            } else if (spec.group() != null) {
                topology.ensureQueue(queue, groupQueueArguments(o));
                if (topology.provisioning()) {
                    bind(topology, queue, topic, type, o);
                }
            } else {
                topology.declareQueue(queue, false, true, true, new HashMap<>(o.queueArguments));
                bind(topology, queue, topic, type, o);
            }
        } catch (Topology.BrokerRefusal e) {
            throw refused(e);
        }
    }

    /** A broker's refusal as the configuration error it is, with what to change for a refused access. */
    static ConfigurationException refused(Topology.BrokerRefusal e) {
        String hint = e.code == Topology.ACCESS_REFUSED
                ? "; give the user configure, write and read permission on the topic's exchange and queues (configure is needed even"
                + " with provisioning off for broadcast queues and delay queues: <topic>.broadcast.*, <queue>.delay.*)"
                : "";
        return new ConfigurationException(e.getMessage() + hint, e);
    }

    private Map<String, Object> groupQueueArguments(RabbitSubscribeOptions o) {
        Map<String, Object> args = new LinkedHashMap<>();
        RabbitConfig.QueueType type = o != null && o.queueType != null ? o.queueType : config.queueType();
        if (type == RabbitConfig.QueueType.QUORUM) {
            args.put("x-queue-type", type.argument());
        }
        if (o != null) {
            args.putAll(o.queueArguments);
        }
        return args;
    }

    private static void bind(Topology topology, String queue, String topic, ExchangeType type, RabbitSubscribeOptions o) {
        switch (type) {
            case TOPIC -> {
                for (String p : o.patterns != null ? o.patterns : List.of("#")) {
                    topology.bind(queue, topic, p, null);
                }
            }
            case DIRECT -> {
                if (o.patterns == null) {
                    throw new ConfigurationException("a subscription to the direct exchange '" + topic
                            + "' needs the routing keys to bind: add RabbitSubscribeOptions.bindingPatterns(...)");
                }
                for (String p : o.patterns) {
                    topology.bind(queue, topic, p, null);
                }
            }
            case FANOUT -> topology.bind(queue, topic, "", null);
            case HEADERS -> {
                Map<String, Object> args = new HashMap<>();
                if (o.headersMatch != null) {
                    args.putAll(o.headersMatch);
                }
                args.put("x-match", o.headersMatchAll ? "all" : "any");
                topology.bind(queue, topic, "", args);
            }
            default -> throw new IllegalStateException("unknown exchange type " + type);
        }
    }

    /**
     * The delay queue of {@code queue} for {@code delay}: messages wait there for the queue's TTL,
     * then the broker dead-letters them back to {@code queue} through the default exchange. One
     * queue per distinct delay keeps each FIFO (every message in it expires after the same time), so
     * a long delay never holds up a short one. Idle delay queues expire on their own.
     */
    String delayQueue(String queue, Duration delay, boolean durable) {
        long ms = Math.max(1, delay.toMillis());
        String name = Topology.fit(queue + ".delay." + ms);
        Long declared = delayQueues.get(name);
        long now = System.nanoTime();
        if (declared == null || now - declared > DELAY_REDECLARE_NANOS) {
            Map<String, Object> args = new HashMap<>();
            args.put("x-message-ttl", ms);
            args.put("x-dead-letter-exchange", "");
            args.put("x-dead-letter-routing-key", queue);
            args.put("x-expires", ms + DELAY_EXPIRY_MS);
            // a broadcast queue's delay queue lives and dies with the connection, like the queue itself
            topology.declareQueue(name, durable, !durable, false, args);
            delayQueues.put(name, now);
        }
        return name;
    }

    void closed(RabbitSubscription s) {
        subscriptions.remove(s);
    }

    // ------------------------------------------------------------------ request-reply

    @Override
    public CompletionStage<Message> request(Message request, Duration timeout) {
        if (closed) {
            return CompletableFuture.failedFuture(new ClosedException("the RabbitMQ binding"));
        }
        return replies.request(request, timeout);
    }

    @Override
    public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
        String to = request.header(HeaderNames.REPLY_TO);
        if (to == null || to.isEmpty()) {
            return CompletableFuture.failedFuture(new PublishException(request.topic(),
                    "the request carries no reply-to address, so the reply has nowhere to go", null, false));
        }
        AMQP.BasicProperties props = MessageMapping.properties(reply, false);
        ConfirmChannel.Pending pending = new ConfirmChannel.Pending(reply.topic(), "", to, reply.id(), false);
        return send(pending, props, reply.payload()).thenApply(v -> PublishReceipt.of(reply));
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (RabbitSubscription s : new ArrayList<>(subscriptions)) {
            s.close(Duration.ZERO);
        }
        replies.close();
        synchronized (publishers) {
            for (ConfirmChannel c : publishers) {
                if (c != null) {
                    c.close();
                }
            }
        }
        topology.close();
        try {
            connection.close((int) Math.min(Integer.MAX_VALUE, context.config().closeTimeout().toMillis()));
        } catch (IOException | AlreadyClosedException e) {
            log.debug("closing the connection to {}: {}", context.url(), e.toString());
            connection.abort();
        }
    }

    @Override
    public String toString() {
        return "RabbitBinding{" + context.url() + '}';
    }
}
