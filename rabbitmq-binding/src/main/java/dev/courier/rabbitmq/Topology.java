package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import dev.courier.rabbitmq.RabbitSubscribeOptions.ExchangeType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Declares (provisioning on) or checks (provisioning off) exchanges, queues and bindings, on one
 * channel of its own that is replaced after a channel error (a failed passive declare closes it).
 * Declarations are serialised; what exists is remembered so publishing declares an exchange only
 * the first time. Thread-safe.
 */
final class Topology {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Topology.class);

    static final int NOT_FOUND = 404;
    static final int PRECONDITION_FAILED = 406;
    static final int RESOURCE_LOCKED = 405;
    static final int ACCESS_REFUSED = 403;
    /** Longest queue or exchange name AMQP allows, in bytes. */
    static final int MAX_NAME_BYTES = 255;

    private final Connection connection;
    private final boolean provisioning;
    private final Object lock = new Object();
    private Channel channel;
    /** Set on a view bound to one caller's channel: declarations run there, without the shared lock. */
    private final Channel own;
    private final Set<String> exchanges;
    private final Set<String> retained;

    Topology(Connection connection, boolean provisioning) {
        this.connection = connection;
        this.provisioning = provisioning;
        this.own = null;
        this.exchanges = ConcurrentHashMap.newKeySet();
        this.retained = ConcurrentHashMap.newKeySet();
    }

    private Topology(Topology shared, Channel own) {
        this.connection = shared.connection;
        this.provisioning = shared.provisioning;
        this.own = own;
        this.exchanges = shared.exchanges;
        this.retained = shared.retained;
    }

    /**
     * A view that declares on {@code ch} (a new subscription's channel), so subscriptions opening
     * at once do not wait for each other. A refused declaration closes {@code ch}.
     */
    Topology on(Channel ch) {
        return new Topology(this, ch);
    }

    boolean provisioning() {
        return provisioning;
    }

    /** An operation on the topology channel. */
    interface Declaration<T> {
        T run(Channel ch) throws IOException;
    }

    /** Runs {@code d} on the topology channel; a channel-level error is rethrown with its reply code and the channel replaced. */
    <T> T run(String what, Declaration<T> d) {
        if (own != null) {
            return runOn(own, what, d);
        }
        synchronized (lock) {
            if (channel == null || !channel.isOpen()) {
                try {
                    channel = connection.createChannel();
                } catch (IOException | ShutdownSignalException e) {
                    throw new BrokerUnavailableException(what + " failed: no channel (" + ConfirmChannel.describe(e) + ")", e);
                }
            }
            return runOn(channel, what, d);
        }
    }

    private static <T> T runOn(Channel ch, String what, Declaration<T> d) {
        {
            try {
                return d.run(ch);
            } catch (IOException | ShutdownSignalException e) {
                int code = replyCode(e);
                if (code > 0) {
                    throw new BrokerRefusal(what, code, ConfirmChannel.describe(e), e);
                }
                throw new BrokerUnavailableException(what + " failed: " + ConfirmChannel.describe(e)
                        + " (connection lost? it is recovered automatically; try again)", e);
            }
        }
    }

    /** A broker's channel-level refusal (404 not found, 406 precondition failed, ...). */
    static final class BrokerRefusal extends RuntimeException {
        final int code;

        BrokerRefusal(String what, int code, String text, Throwable cause) {
            super(what + " was refused by the broker: " + text, cause);
            this.code = code;
        }
    }

    /**
     * Makes sure the exchange of a topic being published to exists. With provisioning on it is
     * declared as a durable topic exchange unless it exists already (of any type); off, it must exist.
     */
    void ensurePublishExchange(String topic) {
        if (exchanges.contains(topic)) {
            return;
        }
        if (provisioning) {
            try {
                run("declaring exchange '" + topic + "'", ch -> ch.exchangeDeclare(topic, "topic", true, false, null));
            } catch (BrokerRefusal e) {
                if (e.code != PRECONDITION_FAILED) { // 406: it exists with another type, which is fine for publishing
                    throw e;
                }
            }
        } else {
            checkExchange(topic);
        }
        exchanges.add(topic);
    }

    /** Declares (or checks) the exchange of a subscription with {@code type}; a clash of types is a configuration error. */
    void ensureSubscribeExchange(String topic, ExchangeType type, boolean explicitType) {
        if (!provisioning) {
            checkExchange(topic);
            exchanges.add(topic);
            return;
        }
        if (exchanges.contains(topic) && !explicitType) {
            return;
        }
        try {
            run("declaring exchange '" + topic + "'", ch -> ch.exchangeDeclare(topic, type.amqpName(), true, false, null));
        } catch (BrokerRefusal e) {
            if (e.code != PRECONDITION_FAILED) {
                throw e;
            }
            if (explicitType) {
                throw new ConfigurationException("exchange '" + topic + "' exists with another type than " + type.amqpName()
                        + " (" + e.getMessage() + "); delete it or subscribe without RabbitSubscribeOptions.exchangeType(...)", e);
            }
        }
        exchanges.add(topic);
    }

    private void checkExchange(String topic) {
        try {
            run("checking exchange '" + topic + "'", ch -> ch.exchangeDeclarePassive(topic));
        } catch (BrokerRefusal e) {
            if (e.code == NOT_FOUND) {
                throw new ConfigurationException("exchange '" + topic + "' does not exist and " + RabbitConfig.PROVISIONING
                        + "=false; declare it (a durable topic exchange) or turn provisioning on", e);
            }
            throw e;
        }
    }

    /**
     * Declares a queue the application owns (group queues, dead-letter retention queues), or with
     * provisioning off checks that it exists.
     */
    void ensureQueue(String queue, Map<String, Object> arguments) {
        if (!provisioning) {
            try {
                run("checking queue '" + queue + "'", ch -> ch.queueDeclarePassive(queue));
            } catch (BrokerRefusal e) {
                if (e.code == NOT_FOUND) {
                    throw new ConfigurationException("queue '" + queue + "' does not exist and " + RabbitConfig.PROVISIONING
                            + "=false; declare it (durable, bound to its topic's exchange) or turn provisioning on", e);
                }
                throw e;
            }
            return;
        }
        declareQueue(queue, true, false, false, arguments);
    }

    /** Declares a queue whatever the provisioning mode (the binding's private queues: broadcast, delay). */
    void declareQueue(String queue, boolean durable, boolean exclusive, boolean autoDelete, Map<String, Object> arguments) {
        try {
            run("declaring queue '" + queue + "'", ch -> ch.queueDeclare(queue, durable, exclusive, autoDelete, arguments));
        } catch (BrokerRefusal e) {
            if (e.code == PRECONDITION_FAILED) {
                throw new ConfigurationException("queue '" + queue + "' exists with other settings than " + arguments
                        + " (" + e.getMessage() + "); delete the queue or subscribe with matching options", e);
            }
            if (e.code == RESOURCE_LOCKED) {
                throw new ConfigurationException("queue '" + queue + "' is exclusive to another connection (" + e.getMessage() + ")", e);
            }
            throw e;
        }
    }

    /** Binds {@code queue} to {@code exchange}. */
    void bind(String queue, String exchange, String routingKey, Map<String, Object> arguments) {
        run("binding queue '" + queue + "' to exchange '" + exchange + "'", ch -> ch.queueBind(queue, exchange, routingKey, arguments));
    }

    /**
     * Dead-letter topics ({@code *.dlq}) keep what is published to them: the first publish declares
     * a durable queue of the topic's own name bound with {@code #}, which every group subscribing to
     * the topic consumes.
     */
    void ensureRetention(String topic, Map<String, Object> arguments) {
        if (retained.contains(topic)) {
            return;
        }
        ensureQueue(topic, arguments);
        if (provisioning) {
            bind(topic, topic, "#", null);
        }
        retained.add(topic);
    }

    /**
     * Makes sure the retention queue of a dead-letter topic exists and is bound, for a publish to
     * it: a queue the dead-letter readers declared with options of their own (a TTL, a queue type)
     * is used as it is, where declaring it again with the defaults would be refused.
     */
    void ensureRetentionExists(String topic, Map<String, Object> arguments) {
        if (retained.contains(topic)) {
            return;
        }
        if (provisioning) {
            boolean exists;
            try {
                run("checking queue '" + topic + "'", ch -> ch.queueDeclarePassive(topic));
                exists = true;
            } catch (BrokerRefusal e) {
                if (e.code != NOT_FOUND) {
                    throw e;
                }
                exists = false;
            }
            if (!exists) {
                try {
                    declareQueue(topic, true, false, false, arguments);
                } catch (ConfigurationException e) {
                    // declared meanwhile by a reader with options of its own: it exists, which is all a publish needs
                    log.debug("retention queue '{}' was declared meanwhile with other settings: {}", topic, e.getMessage());
                }
            }
            bind(topic, topic, "#", null);
            retained.add(topic);
        } else {
            ensureRetention(topic, arguments);
        }
    }

    /** Forgets what was declared (after a delete, so the next use declares again). */
    void forget(String name) {
        exchanges.remove(name);
        retained.remove(name);
    }

    void close() {
        synchronized (lock) {
            if (channel != null && channel.isOpen()) {
                try {
                    channel.close();
                } catch (IOException | java.util.concurrent.TimeoutException | ShutdownSignalException e) {
                    // closing anyway
                }
            }
        }
    }

    /**
     * The exchange a 404 channel close of {@code e} names ("NOT_FOUND - no exchange 'x' in vhost
     * '/'"), or null: every publish outstanding on the closed channel fails with the same close,
     * whatever exchange it went to.
     */
    static String missingExchange(Throwable e) {
        AMQP.Channel.Close close = channelClose(e);
        if (close == null || close.getReplyCode() != NOT_FOUND) {
            return null;
        }
        Matcher m = NO_EXCHANGE.matcher(close.getReplyText());
        return m.find() ? m.group(1) : null;
    }

    private static final Pattern NO_EXCHANGE = Pattern.compile("no exchange '(.*)' in vhost");

    static int replyCode(Throwable e) {
        AMQP.Channel.Close close = channelClose(e);
        return close == null ? -1 : close.getReplyCode();
    }

    /** The broker's channel close somewhere in {@code e}'s causes, or null. */
    private static AMQP.Channel.Close channelClose(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof ShutdownSignalException s && s.getReason() instanceof AMQP.Channel.Close close) {
                return close;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    /** {@code name} if it fits AMQP's 255-byte limit, else a prefix of it plus a hash of the whole. */
    static String fit(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= MAX_NAME_BYTES) {
            return name;
        }
        String hash = Integer.toHexString(name.hashCode()) + Integer.toHexString(new StringBuilder(name).reverse().toString().hashCode());
        String prefix = name;
        while ((prefix + "~" + hash).getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            prefix = prefix.substring(0, prefix.length() - 1);
        }
        return prefix + "~" + hash;
    }
}
