package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.ConfigurationException;
import dev.courier.DeliveryMetadata;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.NoResponderException;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.RequestTimeoutException;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.DeliveryProcessor;
import io.nats.client.ConsumerContext;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamOptions;
import io.nats.client.JetStreamStatusException;
import io.nats.client.PublishOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One NATS connection. JetStream topics: publish with {@code publishAsync} in a bounded window,
 * completing on the PubAck, with the message id as {@code Nats-Msg-Id}; subscribe with a pull
 * consumer (durable per group, ephemeral for broadcast). Core topics: plain subjects and queue
 * groups, publish completing on a flush shared by all publishes made meanwhile. Requests always
 * travel on core NATS, on {@code <request-prefix>.<topic>}, so a stream over the topic never
 * answers them with a PubAck.
 */
final class NatsBinding implements Binding {

    static final Logger log = LoggerFactory.getLogger(NatsBinding.class);

    /** NATS' default max_payload (1 MiB) less room for the headers Courier adds. */
    static final long MAX_PAYLOAD = 1024L * 1024 - 8 * 1024;

    /** Topics on JetStream (the default mode). */
    static final Capabilities JETSTREAM = Capabilities.of("nats", MAX_PAYLOAD,
            Capability.PERSISTENCE, Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.LATE_GROUP_RECEIVES_EARLIER,
            Capability.PER_KEY_ORDER, Capability.REDELIVERY, Capability.NATIVE_DELAYED_REDELIVERY, Capability.DEAD_LETTER,
            Capability.REQUEST_REPLY, Capability.NATIVE_REQUEST_REPLY, Capability.NO_RESPONDER_DETECTION, Capability.REPLAY,
            Capability.AT_LEAST_ONCE, Capability.PUBLISH_CONFIRMS).withMode("jetstream");

    /** Topics on core NATS ({@code courier.nats.mode=core}): at most once, nothing stored. */
    static final Capabilities CORE = Capabilities.of("nats", MAX_PAYLOAD,
            Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.PER_KEY_ORDER, Capability.REQUEST_REPLY,
            Capability.NATIVE_REQUEST_REPLY, Capability.NO_RESPONDER_DETECTION).withMode("core");

    /** Smallest pull request; see startConsumer. */
    private static final int MIN_PULL_BATCH = 16;

    private final Connection connection;
    private final NatsSettings settings;
    private final BindingContext context;
    private final ExecutorService io;
    private final JetStream js;
    private final JetStreamManagement jsm;
    private final Streams streams;
    private final PublishWindow window;
    private final CoreFlusher flusher;
    private final Set<NatsSubscription> subscriptions = ConcurrentHashMap.newKeySet();

    NatsBinding(Connection connection, NatsSettings settings, BindingContext context) {
        this.connection = connection;
        this.settings = settings;
        this.context = context;
        AtomicInteger n = new AtomicInteger();
        this.io = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "courier-nats-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            // JetStream API calls share the machine with everything else; give them the connect timeout, not jnats' 2 s
            JetStreamOptions jso = JetStreamOptions.builder().requestTimeout(settings.connectTimeout).build();
            this.js = connection.jetStream(jso);
            this.jsm = connection.jetStreamManagement(jso);
        } catch (IOException e) {
            io.shutdownNow();
            throw new BrokerUnavailableException("cannot use JetStream on " + context.url() + ": " + e.getMessage(), e);
        }
        if (!settings.coreMode) {
            checkJetStream();
        }
        this.streams = new Streams(jsm, settings, io);
        this.window = new PublishWindow(settings.maxPendingPublishes);
        this.flusher = new CoreFlusher(connection, io, settings.publishTimeout);
    }

    private void checkJetStream() {
        try {
            jsm.getAccountStatistics();
        } catch (IOException | JetStreamApiException e) {
            io.shutdownNow();
            throw new BrokerUnavailableException("the NATS server at " + context.url() + " has no JetStream (" + e.getMessage()
                    + "); start nats-server with -js, or set " + NatsSettings.MODE + "=core for at-most-once messaging", e);
        }
    }

    @Override
    public Capabilities capabilities() {
        return settings.coreMode ? CORE : JETSTREAM;
    }

    // ------------------------------------------------------------------ publish

    private String subjectOf(Message m) {
        if (m.key() != null && settings.keyAsSubject(m.topic())) {
            return m.topic() + "." + NatsMessages.keyToken(m.key());
        }
        return m.topic();
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        Headers headers = NatsMessages.toHeaders(message);
        String subject = subjectOf(message);
        byte[] data = message.payload();
        boolean deadLetter = message.header(HeaderNames.DLQ_ORIGINAL_TOPIC) != null;
        if (settings.isCore(message.topic())) {
            try {
                connection.publish(subject, deadLetter ? fitDeadLetter(message, headers, data, Map.of()) : headers, data);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(new PublishException(message.topic(), describe(e), e, !(e instanceof IllegalArgumentException)));
            }
            return flusher.flushed().handle((v, e) -> {
                if (e != null) {
                    throw new PublishException(message.topic(), "the flush to the server failed: " + describe(unwrap(e)), unwrap(e));
                }
                return PublishReceipt.of(message);
            });
        }
        CompletableFuture<Streams.StreamRef> stream = streams.of(message.topic());
        String msgId = natsMsgId(message);
        return window.<PublishAck>submit(stream, () -> {
                    String streamName = stream.join().name();
                    Headers sent = deadLetter ? fitDeadLetter(message, headers, data,
                            Map.of(NatsMessages.NATS_MSG_ID, msgId, NatsMessages.EXPECTED_STREAM, streamName)) : headers;
                    return js.publishAsync(subject, sent, data, PublishOptions.builder().messageId(msgId).expectedStream(streamName).build());
                })
                .handle((ack, e) -> {
                    if (e != null) {
                        Throwable cause = unwrap(e);
                        if (cause instanceof ConfigurationException ce) {
                            throw ce;
                        }
                        if (mayBeGone(cause)) {
                            streams.forget(message.topic()); // the stream may be gone: look again next time
                            restartConsumers(message.topic()); // and its consumers with it
                        }
                        throw new PublishException(message.topic(), "JetStream did not confirm it: " + describe(cause), cause,
                                !(cause instanceof IllegalArgumentException));
                    }
                    return new PublishReceipt(message.id(), message.topic(), DeliveryMetadata.sequence(ack.getSeqno(), false),
                            ack.isDuplicate());
                });
    }

    /**
     * The headers of dead letter {@code m}, its failure details shortened so that it fits the
     * server's {@code max_payload} together with {@code data} and the headers jnats adds
     * ({@code added}).
     */
    private Headers fitDeadLetter(Message m, Headers headers, byte[] data, Map<String, String> added) {
        long max = connection.getMaxPayload();
        if (max <= 0) {
            return headers; // not known (yet): jnats checks nothing either
        }
        Headers withAdded = new Headers(headers);
        added.forEach(withAdded::put);
        long addedBytes = withAdded.serializedLength() - headers.serializedLength();
        return NatsMessages.fitDeadLetter(m, headers, max - data.length - addedBytes);
    }

    /**
     * Whether a failed JetStream publish may mean the topic's stream is gone (deleted with
     * {@code nats stream rm}, or a memory stream lost when the server restarted), so the next
     * publish looks it up, and creates it when provisioning is on, again. jnats reports a publish
     * nobody answered, which is what a subject without a stream gets, as a
     * {@code RuntimeException(IOException("... 503 No Responders ..."))}; a connection that failed
     * looks the same, and looking the stream up again once costs little then.
     */
    static boolean mayBeGone(Throwable failure) {
        Throwable t = failure;
        for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) { // bounded: a cause chain may be cyclic
            if (t instanceof JetStreamStatusException || t instanceof JetStreamApiException || t instanceof IOException
                    || isNoResponders(t)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The deduplication id: the message id, except for a dead letter, which is one per source
     * delivery (topic, group, stream position), so dead letters of one message from two groups or
     * topics sharing a dead-letter topic are both kept, while a retried dead-letter publish is not.
     */
    static String natsMsgId(Message m) {
        String origin = m.header(HeaderNames.DLQ_ORIGINAL_TOPIC);
        if (origin == null) {
            return m.id();
        }
        String group = m.header(HeaderNames.DLQ_ORIGINAL_GROUP);
        String position = m.header(HeaderNames.DLQ_POSITION);
        return m.id() + "|dlq|" + origin + "|" + (group == null ? "" : group) + "|" + (position == null ? "" : position);
    }

    // ------------------------------------------------------------------ subscribe

    /**
     * Requests travel on core NATS subjects {@code <request-prefix>.<topic>} whatever the topic's
     * mode, so a stream never stores or acknowledges them: a responder listens there only (with its
     * group as queue group), and plain subscribers never see requests.
     */
    @Override
    public BindingSubscription respond(Subscribe spec, DeliveryProcessor processor) {
        NatsSubscription sub = new NatsSubscription(spec, connection, processor, context.handlerExecutor(), context.scheduler(), io, flusher);
        try {
            sub.subscribeCore(settings.requestSubject(spec.topic()), spec.group());
            flusher.flushAndWait();
        } catch (TimeoutException e) {
            sub.close(Duration.ZERO);
            throw new BrokerUnavailableException("the NATS server at " + context.url() + " did not confirm the responder on '"
                    + spec.topic() + "' in time", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sub.close(Duration.ZERO);
            throw new BrokerUnavailableException("interrupted while starting the responder on '" + spec.topic() + "'", e);
        } catch (RuntimeException e) {
            sub.close(Duration.ZERO);
            throw e;
        }
        return sub;
    }

    @Override
    public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
        String topic = spec.topic();
        String filter = spec.bindingOption(NatsSubscribeOptions.class).map(NatsSubscribeOptions::subjectFilter).orElse(null);
        if (settings.keyAsSubject(topic) && spec.deadLetterTopic().startsWith(topic + ".")) {
            throw new ConfigurationException("topic '" + topic + "' carries keys as subject tokens, so its stream captures '"
                    + topic + ".>' and would also capture the dead-letter topic '" + spec.deadLetterTopic()
                    + "'; set Subscribe.deadLetterTopic(...) outside it, e.g. 'dlq." + topic + "'");
        }
        NatsSubscription sub = new NatsSubscription(spec, connection, processor, context.handlerExecutor(), context.scheduler(), io, flusher);
        try {
            String queue = spec.group();
            if (settings.isCore(topic)) {
                String subject = filter != null ? filter : (settings.keyAsSubject(topic) ? topic + ".>" : topic);
                sub.subscribeCore(subject, queue);
                if (settings.keyAsSubject(topic) && filter == null) {
                    sub.subscribeCore(topic, queue); // messages without a key
                }
            } else {
                startConsumer(spec, filter, sub);
            }
            // the server has registered the subscriptions once a flush returns: publishes after subscribe() are seen
            flusher.flushAndWait();
        } catch (TimeoutException e) {
            sub.close(Duration.ZERO);
            throw new BrokerUnavailableException("the NATS server at " + context.url() + " did not confirm the subscription to '"
                    + topic + "' within " + settings.connectTimeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sub.close(Duration.ZERO);
            throw new BrokerUnavailableException("interrupted while subscribing to '" + topic + "'", e);
        } catch (RuntimeException e) {
            sub.close(Duration.ZERO);
            throw e;
        }
        return sub;
    }

    private void startConsumer(Subscribe spec, String filter, NatsSubscription sub) {
        String topic = spec.topic();
        // max_ack_pending bounds what is in flight; the pull batch only sizes the requests
        int batch = Math.max(MIN_PULL_BATCH, spec.maxInFlight());
        AtomicReference<ConsumerRef> current = new AtomicReference<>(createConsumer(spec, filter, false));
        NatsSubscription.ConsumerStarter starter = dispatcher -> {
            ConsumerRef ref = current.get();
            if (ref.used && consumerGone(ref)) {
                // the stream was deleted (or a memory stream lost in a server restart): its consumer went with it
                streams.forget(topic);
                boolean newStream = streamNewerThan(ref);
                ref = createConsumer(spec, filter, newStream);
                current.set(ref);
                log.warn("the JetStream consumer of '{}' was gone (its stream {}); created {} again on stream {}{}", topic,
                        newStream ? "deleted or lost" : "kept, the consumer deleted", ref.consumer, ref.stream,
                        newStream ? ", reading the new stream from its start" : "");
            }
            ref.used = true;
            return PullLoop.start(js, connection, ref.stream, ref.consumer, dispatcher, batch, settings.pullExpiry, topic, sub::onJetStream,
                    context.scheduler());
        };
        try {
            sub.attachConsumer(starter, () -> consumerGone(current.get()), () -> {
                subscriptions.remove(sub);
                ConsumerRef ref = current.get();
                if (spec.isBroadcast()) {
                    deleteQuietly(ref.stream, ref.consumer);
                }
            }, settings.ackWait);
            subscriptions.add(sub);
        } catch (JetStreamApiException | IOException e) {
            throw consumerFailure(spec, e);
        }
    }

    /** A consumer JetStream refused (a configuration error; the stream is looked up again next time) or did not answer about. */
    private RuntimeException consumerFailure(Subscribe spec, Exception e) {
        String topic = spec.topic();
        if (e instanceof JetStreamApiException api) {
            streams.forget(topic);
            return new ConfigurationException("JetStream refused the consumer for '" + topic + "'"
                    + (spec.group() != null ? " group '" + spec.group() + "'" : "") + ": " + api.getErrorDescription()
                    + " (code " + api.getApiErrorCode() + ")", e);
        }
        return new BrokerUnavailableException("JetStream did not answer while creating the consumer for '" + topic + "': "
                + e.getMessage(), e);
    }

    /** A subscription's server-side consumer, created at {@code created} (server time); {@code used} once a pull ran on it. */
    private static final class ConsumerRef {
        final String stream;
        final String consumer;
        final java.time.ZonedDateTime created;
        volatile boolean used;

        ConsumerRef(String stream, String consumer, java.time.ZonedDateTime created) {
            this.stream = stream;
            this.consumer = consumer;
            this.created = created;
        }
    }

    /**
     * Whether the topic's stream is gone or newer than {@code ref}'s consumer: then what it holds was
     * all published after the consumer was lost, and the new consumer reads it from the start
     * (starting at "new" would lose what a publish stored while the consumer was being made again).
     */
    private boolean streamNewerThan(ConsumerRef ref) throws IOException {
        try {
            java.time.ZonedDateTime streamCreated = jsm.getStreamInfo(ref.stream).getCreateTime();
            return ref.created == null || streamCreated == null || streamCreated.isAfter(ref.created);
        } catch (JetStreamApiException e) {
            return true; // not found: it is created anew
        }
    }

    /** True if the server no longer knows {@code ref}'s consumer or its stream. */
    private boolean consumerGone(ConsumerRef ref) throws IOException {
        try {
            jsm.getConsumerInfo(ref.stream, ref.consumer);
            return false;
        } catch (JetStreamApiException e) {
            return e.getApiErrorCode() == CONSUMER_NOT_FOUND || e.getApiErrorCode() == STREAM_NOT_FOUND;
        }
    }

    /** JetStream API error codes. */
    private static final int CONSUMER_NOT_FOUND = 10014;
    private static final int STREAM_NOT_FOUND = 10059;

    /**
     * Finds (or creates) the topic's stream and creates or checks the subscription's consumer on it;
     * {@code fromStart}: read the stream from its first message whatever the start position.
     */
    private ConsumerRef createConsumer(Subscribe spec, String filter, boolean fromStart) {
        String topic = spec.topic();
        Streams.StreamRef stream = streams.require(topic);
        ConsumerConfiguration.Builder cc = ConsumerConfiguration.builder()
                .ackPolicy(AckPolicy.Explicit)
                .ackWait(settings.ackWait)
                .maxAckPending(spec.maxInFlight())
                .maxDeliver(settings.maxDeliver);
        applyStart(cc, spec);
        if (fromStart) {
            cc.deliverPolicy(DeliverPolicy.All).startTime(null).startSequence(0);
        }
        try {
            if (filter != null) {
                cc.filterSubject(filter);
            } else if (!stream.dedicated() && !settings.keyAsSubject(topic)) {
                cc.filterSubject(topic);
            } else if (!stream.dedicated()
                    && !streams.subjectsFor(topic).containsAll(streams.info(stream.name()).getConfiguration().getSubjects())) {
                // keyless messages go to <topic>, keyed ones to <topic>.<key>: the consumer needs both
                if (!connection.getServerInfo().isSameOrNewerThanVersion("2.10.0")) {
                    throw new ConfigurationException("stream " + stream.name() + " captures more than '" + topic + "' and '" + topic
                            + ".>'; consuming both needs nats-server 2.10 (multiple filter subjects), or a stream of its own");
                }
                cc.filterSubjects(topic, topic + ".>");
            }
            if (spec.isBroadcast()) {
                cc.inactiveThreshold(settings.inactiveThreshold);
                ConsumerInfo info = jsm.addOrUpdateConsumer(stream.name(), cc.build());
                return new ConsumerRef(stream.name(), info.getName(), info.getCreationTime());
            }
            String consumerName = stream.dedicated() ? durableName(spec.group()) : sharedDurable(stream.name(), spec.group(), topic);
            cc.durable(consumerName);
            ensureDurable(stream.name(), consumerName, cc, spec);
            return new ConsumerRef(stream.name(), consumerName, jsm.getConsumerInfo(stream.name(), consumerName).getCreationTime());
        } catch (JetStreamApiException | IOException e) {
            throw consumerFailure(spec, e);
        }
    }

    /**
     * A group's name as a durable consumer name, which may not contain dots: a group without dots
     * keeps its name (so existing consumers stay theirs); one with dots gets them replaced and a
     * hash of the original appended, so {@code eu.billing} and {@code eu_billing} stay apart.
     */
    static String durableName(String group) {
        return group.indexOf('.') < 0 ? group : group.replace('.', '_') + "_" + Integer.toHexString(group.hashCode());
    }

    /**
     * The durable consumer name of {@code group} on {@code topic}'s share of a stream that holds
     * other topics too (an operator's stream over {@code orders.>}): the group and the topic with
     * dots as underscores, {@code billing_orders_eu}. Where group or topic have underscores that
     * name is ambiguous ({@code x.eu_west} and {@code x.eu.west}, or group {@code g_orders} on
     * {@code x} and {@code g} on {@code orders.x}), so a hash of both is appended; a consumer
     * already under the plain name whose filter is this topic's (created before the hash was) is
     * kept, so the group resumes where it left off instead of starting over.
     */
    private String sharedDurable(String stream, String group, String topic) throws IOException, JetStreamApiException {
        String plain = durableName(group) + "_" + topic.replace('.', '_');
        String name = durableName(group, topic);
        if (!name.equals(plain)) {
            ConsumerInfo legacy = consumerOrNull(stream, plain);
            if (legacy != null && belongsTo(filtersOf(legacy.getConsumerConfiguration()), topic)) {
                return plain;
            }
        }
        return name;
    }

    /** The durable name of {@code group} on {@code topic} in a shared stream; see {@link #sharedDurable}. */
    static String durableName(String group, String topic) {
        String plain = durableName(group) + "_" + topic.replace('.', '_');
        boolean unambiguous = group.indexOf('_') < 0 && group.indexOf('.') < 0 && topic.indexOf('_') < 0;
        return unambiguous ? plain : plain + "_" + Integer.toHexString((group + " " + topic).hashCode());
    }

    /**
     * Whether a consumer with {@code filters} reads {@code topic}: filtered on the topic or on
     * subjects under it (keys as subject tokens), or not filtered at all (which cannot be told).
     */
    private static boolean belongsTo(List<String> filters, String topic) {
        return filters.stream().allMatch(f -> f.equals(topic) || f.startsWith(topic + "."));
    }

    private ConsumerInfo consumerOrNull(String stream, String name) throws IOException, JetStreamApiException {
        try {
            return jsm.getConsumerInfo(stream, name);
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() != 10014) { // consumer not found
                throw e;
            }
            return null;
        }
    }

    /**
     * Creates the group's durable consumer, or adjusts the settings a running group may change.
     * A consumer of that name that reads another topic is left alone: changing its filter would
     * hand that topic's messages to this subscription and starve the other one.
     */
    private void ensureDurable(String stream, String name, ConsumerConfiguration.Builder wanted, Subscribe spec)
            throws IOException, JetStreamApiException {
        for (int attempt = 0; ; attempt++) {
            ConsumerInfo existing = consumerOrNull(stream, name);
            if (existing != null && !belongsTo(filtersOf(existing.getConsumerConfiguration()), spec.topic())) {
                throw new ConfigurationException("the durable consumer '" + name + "' of stream " + stream + " reads "
                        + filtersOf(existing.getConsumerConfiguration()) + ", not topic '" + spec.topic() + "'; group '" + spec.group()
                        + "' cannot take it over without moving another subscription's messages here. Delete it if it is stale "
                        + "(nats consumer rm " + stream + " " + name + ") or use another group name; see docs/bindings/nats.md");
            }
            try {
                if (existing == null) {
                    jsm.addOrUpdateConsumer(stream, wanted.build());
                } else {
                    ConsumerConfiguration c = existing.getConsumerConfiguration();
                    List<String> filters = filtersOf(wanted.build());
                    if (c.getMaxAckPending() != spec.maxInFlight() || !settings.ackWait.equals(c.getAckWait())
                            || c.getMaxDeliver() != settings.maxDeliver || !filtersOf(c).equals(filters)) {
                        // the start position of an existing group stays: it resumes where it left off
                        jsm.addOrUpdateConsumer(stream, ConsumerConfiguration.builder(c).filterSubjects(filters)
                                .maxAckPending(spec.maxInFlight()).ackWait(settings.ackWait).maxDeliver(settings.maxDeliver).build());
                    }
                }
                return;
            } catch (JetStreamApiException e) {
                if (attempt >= 2) {
                    throw e;
                }
                // another member created or changed it at the same time: look again
            }
        }
    }

    private static List<String> filtersOf(ConsumerConfiguration c) {
        return c.getFilterSubjects() == null ? List.of() : c.getFilterSubjects();
    }

    private static void applyStart(ConsumerConfiguration.Builder cc, Subscribe spec) {
        StartPosition start = spec.startFrom();
        switch (start.kind()) {
            case DEFAULT -> cc.deliverPolicy(spec.isBroadcast() ? DeliverPolicy.New : DeliverPolicy.All);
            case EARLIEST -> cc.deliverPolicy(DeliverPolicy.All);
            case LATEST -> cc.deliverPolicy(DeliverPolicy.New);
            case TIME -> cc.deliverPolicy(DeliverPolicy.ByStartTime).startTime(start.time().atZone(ZoneOffset.UTC));
            case SEQUENCE -> cc.deliverPolicy(DeliverPolicy.ByStartSequence).startSequence(Math.max(1, start.sequence()));
            default -> throw new IllegalStateException("unknown start position " + start);
        }
    }

    private void deleteQuietly(String stream, String consumer) {
        try {
            jsm.deleteConsumer(stream, consumer);
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            log.debug("deleting consumer {} of stream {} failed ({}); the server removes it after {}", consumer, stream,
                    e.toString(), settings.inactiveThreshold);
        }
    }

    /** Has the JetStream subscriptions of {@code topic} pull afresh, creating their consumers again if they are gone. */
    private void restartConsumers(String topic) {
        restartWhere(s -> s.topic().equals(topic));
    }

    /**
     * The pull on {@code dispatcher} reported its consumer deleted or gone: if the server lost it,
     * that subscription pulls afresh on a consumer created again (a process that only consumes
     * otherwise learns of a deleted stream only at its next reconnect). At most once every five
     * seconds per subscription.
     */
    void consumerTrouble(io.nats.client.Dispatcher dispatcher) {
        restartWhere(s -> s.pullsOn(dispatcher) && s.troubleRestartDue());
    }

    /**
     * After a reconnect the server may have restarted: a subscription whose consumer it lost (a
     * memory stream) pulls afresh on a new one. Pull requests it forgot are asked for again by each
     * subscription's {@link PullLoop} within one expiry; a pull replaced for nothing would drop what
     * its requests, held by jnats while the connection was down, bring after the reconnect.
     */
    void reconnected() {
        restartWhere(s -> true);
    }

    /** Restarts the pulls of the subscriptions {@code which} selects whose consumer is gone, off jnats' threads. */
    private void restartWhere(java.util.function.Predicate<NatsSubscription> which) {
        for (NatsSubscription s : subscriptions) {
            if (which.test(s)) {
                try {
                    io.execute(s::restartConsumerIfGone);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    return; // closing
                }
            }
        }
    }

    // ------------------------------------------------------------------ request-reply

    @Override
    public CompletionStage<Message> request(Message request, Duration timeout) {
        String topic = request.topic();
        NatsMessage msg = NatsMessage.builder()
                .subject(settings.requestSubject(topic))
                .headers(NatsMessages.toHeaders(request))
                .data(request.payload())
                .build();
        CompletableFuture<Message> result = new CompletableFuture<>();
        CompletableFuture<io.nats.client.Message> reply;
        try {
            reply = connection.requestWithTimeout(msg, timeout);
        } catch (IllegalArgumentException e) {
            // jnats refuses the request itself (over the server's max_payload, say): sending it again cannot help
            return CompletableFuture.failedFuture(new PublishException(topic, "the request was refused before sending: " + describe(e),
                    e, false));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(new BrokerUnavailableException("cannot send the request to '" + topic + "': "
                    + describe(e), e));
        }
        // our own timer, so the timeout holds whatever jnats' request cleanup interval is
        ScheduledFuture<?> timer = context.scheduler().schedule(() -> {
            if (result.completeExceptionally(new RequestTimeoutException(topic, timeout))) {
                reply.cancel(false);
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        reply.whenComplete((m, e) -> {
            timer.cancel(false);
            if (e == null) {
                if (m.isStatusMessage()) {
                    result.completeExceptionally(m.getStatus().getCode() == 503 ? new NoResponderException(topic)
                            : new RequestTimeoutException(topic, timeout));
                } else {
                    result.complete(NatsMessages.fromNats(m, topic, "reply-" + request.id()));
                }
                return;
            }
            Throwable cause = unwrap(e);
            if (cause instanceof JetStreamStatusException jse && jse.getStatus() != null && jse.getStatus().getCode() == 503
                    || cause instanceof CancellationException && !result.isDone() && isNoResponders(cause)) {
                result.completeExceptionally(new NoResponderException(topic));
            } else if (cause instanceof TimeoutException || cause instanceof CancellationException) {
                result.completeExceptionally(new RequestTimeoutException(topic, timeout));
            } else {
                result.completeExceptionally(new BrokerUnavailableException("the request to '" + topic + "' failed: " + describe(cause), cause));
            }
        });
        return onHandlerExecutor(result);
    }

    /**
     * The outcome of a request as the caller gets it, completed on the handler executor: a request
     * times out on the Courier's one scheduler thread and gets its reply on jnats' thread, and code
     * chained onto it that blocks there (a retry waiting for its own reply, say) would hold up every
     * other timer, or the connection's replies. Inline only when the executor refuses it, as the
     * Courier is closing.
     */
    private CompletableFuture<Message> onHandlerExecutor(CompletableFuture<Message> outcome) {
        CompletableFuture<Message> handedOff = new CompletableFuture<>();
        outcome.whenComplete((m, e) -> {
            Runnable complete = () -> {
                if (e != null) {
                    handedOff.completeExceptionally(e);
                } else {
                    handedOff.complete(m);
                }
            };
            try {
                context.handlerExecutor().execute(complete);
            } catch (java.util.concurrent.RejectedExecutionException rejected) {
                complete.run();
            }
        });
        return handedOff;
    }

    private static boolean isNoResponders(Throwable cause) {
        String m = cause.getMessage();
        return m != null && m.toLowerCase(java.util.Locale.ROOT).contains("responders");
    }

    @Override
    public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
        String replyTo = request.header(HeaderNames.REPLY_TO);
        if (replyTo == null || replyTo.isEmpty()) {
            return CompletableFuture.failedFuture(new PublishException(request.topic(),
                    "the request carries no reply subject; was it sent with Requester.request?", null, false));
        }
        try {
            connection.publish(replyTo, NatsMessages.toHeaders(reply), reply.payload());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(new PublishException(request.topic(), "reply failed: " + describe(e), e));
        }
        return flusher.flushed().thenApply(v -> PublishReceipt.of(reply));
    }

    // ------------------------------------------------------------------ close

    @Override
    public void close() {
        try {
            if (connection.getStatus() == Connection.Status.CONNECTED) {
                // jnats drops what is still queued for the socket at close: settlements made just before would be lost
                flusher.flushAndWait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("flush before closing the connection failed: {}", e.toString());
        }
        try {
            connection.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            io.shutdownNow();
        }
    }

    Connection connection() {
        return connection;
    }

    static Throwable unwrap(Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }
}
