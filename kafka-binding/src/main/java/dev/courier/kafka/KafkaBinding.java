package dev.courier.kafka;

import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.ConfigurationException;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import dev.courier.Subscribe;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.Payloads;
import dev.courier.spi.DeliveryProcessor;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code kafka://} binding: one idempotent producer shared by all publishers, one consumer and
 * offset-commit coordinator per subscription, an admin client for topics, and a private reply
 * topic for request-reply.
 */
final class KafkaBinding implements Binding {

    private static final Logger log = LoggerFactory.getLogger(KafkaBinding.class);

    /**
     * The largest payload: the producer's {@code max.request.size} and the broker's {@code message.max.bytes}
     * (1 MiB by default) less 24 KiB, so a message of this size can still be dead-lettered. Its dead letter
     * carries the message's own headers plus up to about 19 KB of failure headers: the stack trace (up to
     * 4,096 characters), the reason and the exception message (up to 1,024 each) take up to three UTF-8
     * bytes a character when the exception message is not ASCII, besides topic, group, class name and times.
     * With only 1 KiB kept for headers, such a dead letter was refused as too large, and the message
     * redelivered and refused again for good, holding its key and its partition's commit.
     */
    static final long MAX_PAYLOAD_BYTES = 1024L * 1024 - 24 * 1024;

    /**
     * The declaration with retry topics off ({@code courier.kafka.retry-topic.threshold=off}): every
     * delayed redelivery waits in process and keeps its key, so {@link Capability#ORDERED_DELAYED_REDELIVERY} holds.
     */
    static final Capabilities CAPABILITIES_RETRY_TOPICS_OFF = Capabilities.of("kafka", MAX_PAYLOAD_BYTES,
            Capability.PERSISTENCE, Capability.CONSUMER_GROUPS, Capability.BROADCAST, Capability.LATE_GROUP_RECEIVES_EARLIER,
            Capability.PER_KEY_ORDER, Capability.REDELIVERY, Capability.ORDERED_DELAYED_REDELIVERY, Capability.DEAD_LETTER,
            Capability.REQUEST_REPLY, Capability.REPLAY, Capability.AT_LEAST_ONCE, Capability.PUBLISH_CONFIRMS);

    /**
     * The default declaration, retry topics on: a message waiting in the retry topic no longer holds
     * its key, so the binding does not declare {@link Capability#ORDERED_DELAYED_REDELIVERY}.
     */
    static final Capabilities CAPABILITIES = Capabilities.of("kafka", CAPABILITIES_RETRY_TOPICS_OFF.maxPayloadBytes(),
            CAPABILITIES_RETRY_TOPICS_OFF.all().stream().filter(c -> c != Capability.ORDERED_DELAYED_REDELIVERY).toArray(Capability[]::new));

    private final BindingContext context;
    final KafkaSettings settings;
    private final Admin admin;
    private final KafkaProducer<String, byte[]> producer;
    private final Map<String, CompletableFuture<Integer>> topics = new ConcurrentHashMap<>();
    private final Map<String, RoundRobin> roundRobin = new ConcurrentHashMap<>();
    /** Deletes of closed broadcast subscriptions' groups under way. */
    private final Set<KafkaFuture<Void>> groupDeletes = ConcurrentHashMap.newKeySet();

    /**
     * Spreads a topic's keyless messages over its partitions, so a group's members share them. The
     * partition count is looked up again at most once a second from the producer's metadata, so
     * partitions added to the topic get their share too.
     */
    private final class RoundRobin {
        private static final long RECHECK_NANOS = TimeUnit.SECONDS.toNanos(1);
        private final AtomicInteger next = new AtomicInteger();
        private volatile int partitions;
        private volatile long checkedAt = System.nanoTime();

        RoundRobin(int partitions) {
            this.partitions = partitions;
        }

        int next(String topic) {
            long now = System.nanoTime();
            if (now - checkedAt > RECHECK_NANOS) {
                checkedAt = now;
                try {
                    int n = producer.partitionsFor(topic).size();
                    if (n > 0) {
                        partitions = n;
                    }
                } catch (RuntimeException e) {
                    log.debug("could not look up the partitions of '{}': {}", topic, e.toString());
                }
            }
            return Math.floorMod(next.getAndIncrement(), partitions);
        }
    }
    private final KafkaReplies replies;
    private final KafkaConfirms confirms;

    KafkaBinding(BindingContext context) {
        this.context = context;
        this.settings = new KafkaSettings(context.url(), context.config());
        this.admin = KafkaSettings.client("admin client", settings.admin, Admin::create);
        KafkaProducer<String, byte[]> p;
        try {
            checkReachable();
            p = KafkaSettings.client("producer", settings.producer, KafkaProducer<String, byte[]>::new);
        } catch (RuntimeException e) {
            admin.close(Duration.ZERO);
            throw e;
        }
        this.producer = p;
        this.confirms = new KafkaConfirms(this::publishFailure, context.scheduler(), context.handlerExecutor());
        this.replies = new KafkaReplies(this, context);
    }

    private void checkReachable() {
        long ms = settings.connectTimeout.toMillis();
        try {
            admin.describeCluster().nodes().get(ms, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new BrokerUnavailableException("Kafka at " + context.url() + " did not answer within " + ms
                    + " ms (courier.connect.timeout); check the address and that the broker runs (scripts/kafka.sh start)", e);
        } catch (ExecutionException e) {
            throw new BrokerUnavailableException("cannot connect to Kafka at " + context.url() + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerUnavailableException("interrupted while connecting to Kafka at " + context.url(), e);
        }
    }

    @Override
    public Capabilities capabilities() {
        return settings.retryThreshold == null ? CAPABILITIES_RETRY_TOPICS_OFF : CAPABILITIES;
    }

    /** Completes with the topic's partition count once it exists (created if provisioning is on). */
    CompletableFuture<Integer> ensureTopic(String topic) {
        return ensureTopic(topic, settings.partitions);
    }

    /** As {@link #ensureTopic(String)}, creating the topic with {@code partitions} partitions if it is missing. */
    CompletableFuture<Integer> ensureTopic(String topic, int partitions) {
        return ensureTopic(topic, partitions, settings.provisioning);
    }

    /** A topic of the binding's own (its reply topic): created if missing whatever the provisioning setting. */
    CompletableFuture<Integer> ensureOwnTopic(String topic, int partitions) {
        return ensureTopic(topic, partitions, true);
    }

    private CompletableFuture<Integer> ensureTopic(String topic, int partitions, boolean create) {
        CompletableFuture<Integer> f = topics.get(topic);
        if (f != null) {
            return f;
        }
        CompletableFuture<Integer> created = new CompletableFuture<>();
        CompletableFuture<Integer> prior = topics.putIfAbsent(topic, created);
        if (prior != null) {
            return prior;
        }
        describeOrCreate(topic, partitions, create).whenComplete((n, e) -> {
            if (e != null) {
                topics.remove(topic, created);
                created.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
            } else {
                created.complete(n);
            }
        });
        return created;
    }

    private CompletableFuture<Integer> describeOrCreate(String topic, int partitions, boolean create) {
        CompletableFuture<Integer> out = new CompletableFuture<>();
        admin.describeTopics(List.of(topic)).topicNameValues().get(topic).whenComplete((d, e) -> {
            if (e == null) {
                out.complete(d.partitions().size());
            } else if (!(e instanceof UnknownTopicOrPartitionException)) {
                out.completeExceptionally(e);
            } else if (!create) {
                out.completeExceptionally(new ConfigurationException("Kafka topic '" + topic + "' does not exist and provisioning is off ("
                        + KafkaSettings.PROVISIONING + "=false); create it, or turn provisioning on"));
            } else {
                admin.createTopics(List.of(new NewTopic(topic, partitions, settings.replication))).all().whenComplete((v, ce) -> {
                    if (ce == null || ce instanceof TopicExistsException) {
                        log.info("created Kafka topic '{}' with {} partition(s)", topic, partitions);
                        out.complete(partitions);
                    } else {
                        out.completeExceptionally(ce);
                    }
                });
            }
        });
        return out;
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        CompletableFuture<PublishReceipt> f = new CompletableFuture<>();
        publishInto(message, f);
        return f;
    }

    /**
     * The producer copies key, value and headers into its batch before {@code send} returns; a
     * message that waits for its topic is copied first (see {@link #publishInto}). Not with
     * producer interceptors configured: one of them might keep the record.
     */
    @Override
    public boolean copiesPayloadOnPublish() {
        Object interceptors = settings.producer.get(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG);
        return interceptors == null || interceptors.toString().isBlank();
    }

    /**
     * True when the producer's {@code delivery.timeout.ms} is at most {@code timeout} (by default it is
     * set to {@code courier.publish.timeout}, see {@link KafkaSettings#deliveryTimeout}); a publish
     * that waits for its topic has a timer of its own.
     */
    @Override
    public boolean settlesPublishesWithin(Duration timeout) {
        return settings.deliveryTimeout != null && settings.deliveryTimeout.compareTo(timeout) <= 0;
    }

    /** Completes {@code result} from the producer's callback: no future of the binding's own in between. */
    @Override
    public void publishInto(Message message, CompletableFuture<PublishReceipt> result) {
        CompletableFuture<Integer> topic = ensureTopic(message.topic());
        if (topic.isDone() && !topic.isCompletedExceptionally()) {
            send(message, topic.join(), result);
            return;
        }
        // the topic is not ready yet: keep a copy, since the caller's array may be handed to us uncopied
        Message later = Payloads.owned(message.toBuilder(), message.payload()).build();
        // whichever comes first, the topic or the timeout, decides: sent, or failed as not published
        AtomicBoolean decided = new AtomicBoolean();
        if (settings.deliveryTimeout != null) {
            // the producer's delivery timeout starts at send(): bound the wait for the topic as well
            long ms = settings.deliveryTimeout.toMillis();
            ScheduledFuture<?> timer = context.scheduler().schedule(() -> {
                if (decided.compareAndSet(false, true)) {
                    failOnHandlerExecutor(result, new PublishException(message.topic(), "message " + message.id()
                            + " was not published within " + ms + " ms (courier.publish.timeout): its topic was not ready", null, true));
                }
            }, ms, TimeUnit.MILLISECONDS);
            result.whenComplete((r, e) -> timer.cancel(false));
        }
        topic.whenComplete((n, e) -> {
            if (result.isDone() || !decided.compareAndSet(false, true)) {
                return; // timed out waiting for the topic and reported as not published: do not publish it now
            }
            if (e == null) {
                send(later, n, result);
            } else {
                result.completeExceptionally(e instanceof ConfigurationException ? e
                        : new PublishException(message.topic(), "topic is not available: " + e.getMessage(), e));
            }
        });
    }

    /**
     * Fails a publish that timed out waiting for its topic on the handler executor: the timeout fires
     * on the Courier's one scheduler thread, and code chained onto the failure that blocks there (a
     * retry waiting for its own publish, say) would hold up every other timer of the Courier (other
     * publishes' and requests' timeouts, delayed redeliveries). Inline only when the executor
     * refuses it, as the Courier is closing.
     */
    private void failOnHandlerExecutor(CompletableFuture<PublishReceipt> result, PublishException failure) {
        try {
            context.handlerExecutor().execute(() -> result.completeExceptionally(failure));
        } catch (RejectedExecutionException rejected) {
            result.completeExceptionally(failure);
        }
    }

    private void send(Message m, int partitions, CompletableFuture<PublishReceipt> f) {
        // keyless messages go round-robin, so a group's members share them; keyed ones follow the key's partition
        Integer partition = m.key() == null ? roundRobin.computeIfAbsent(m.topic(), t -> new RoundRobin(partitions)).next(m.topic()) : null;
        sendTo(m, partition, f);
    }

    /** Sends {@code m} to {@code partition}, or where the producer's partitioner puts it when null. */
    private void sendTo(Message m, Integer partition, CompletableFuture<PublishReceipt> f) {
        // the callback keeps the stage, id and topic only: the message and its payload need not live until the ack
        KafkaConfirms.Sent callback = confirms.callback(f, m.id(), m.topic());
        boolean settleHere = settings.confirmsOnSenders;
        if (settleHere) {
            confirms.beginSend();
        }
        try {
            producer.send(KafkaMessages.toRecord(m, partition), callback);
        } catch (RuntimeException e) {
            f.completeExceptionally(new PublishException(m.topic(), e.getMessage(), e, e instanceof RetriableException));
        } finally {
            if (settleHere) {
                confirms.endSend(); // settles what the producer answered meanwhile (see KafkaConfirms)
            }
        }
    }

    private PublishException publishFailure(String topic, String id, Exception e) {
        if (e instanceof org.apache.kafka.common.errors.TimeoutException && settings.deliveryTimeout != null) {
            return new PublishException(topic, "the broker did not confirm message " + id + " within " + settings.deliveryTimeout.toMillis()
                    + " ms (courier.publish.timeout, the producer's delivery.timeout.ms); it may or may not have been stored: "
                    + e.getMessage(), e, true);
        }
        return new PublishException(topic, e.getMessage(), e, e instanceof RetriableException);
    }

    @Override
    public BindingSubscription subscribe(Subscribe spec, DeliveryProcessor processor) {
        String retryTopic = spec.group() != null && settings.retryThreshold != null ? KafkaSettings.retryTopic(spec.topic(), spec.group()) : null;
        try {
            ensureTopic(spec.topic()).get(settings.assignTimeout.toMillis(), TimeUnit.MILLISECONDS);
            if (retryTopic != null) {
                try {
                    ensureTopic(retryTopic).get(settings.assignTimeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof ConfigurationException)) {
                        throw e;
                    }
                    // provisioning is off and nobody created it: long delays wait in process, as without retry topics
                    log.warn("retry topic '{}' does not exist and provisioning is off; nacks of '{}' wait in process. Create it, or set {}=off",
                            retryTopic, spec.topic(), KafkaSettings.RETRY_TOPIC_THRESHOLD);
                    retryTopic = null;
                }
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re && re instanceof dev.courier.CourierException) {
                throw re;
            }
            throw new BrokerUnavailableException("cannot prepare Kafka topic '" + spec.topic() + "': " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new BrokerUnavailableException("Kafka topic '" + spec.topic() + "' was not ready within " + settings.assignTimeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerUnavailableException("interrupted while preparing Kafka topic '" + spec.topic() + "'", e);
        }
        KafkaSubscription s = new KafkaSubscription(spec, processor, settings, context, retryTopic, this::sendRetry, this::deleteGroup);
        s.start();
        return s;
    }

    /** Sends a record to a retry topic; completes when the broker acknowledged it. */
    private CompletableFuture<Void> sendRetry(ProducerRecord<String, byte[]> record) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            producer.send(record, (md, e) -> {
                if (e == null) {
                    f.complete(null);
                } else {
                    f.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return f;
    }

    @Override
    public CompletionStage<Message> request(Message request, Duration timeout) {
        return replies.request(request, timeout);
    }

    @Override
    public CompletionStage<PublishReceipt> reply(Message request, Message reply) {
        String replyTopic = request.header(HeaderNames.REPLY_TO);
        if (replyTopic == null) {
            return CompletableFuture.failedFuture(new PublishException(request.topic(),
                    "request " + request.id() + " has no " + HeaderNames.REPLY_TO + " header; nowhere to reply", null, false));
        }
        Message m = reply.withTopic(replyTopic);
        CompletableFuture<PublishReceipt> f = new CompletableFuture<>();
        // looked up on every reply, never created: a requester that closed took its topic with it, and a late reply must
        // not bring it back (a lookup remembered from an earlier reply would not know it is gone)
        describeOrCreate(replyTopic, 1, false).whenComplete((n, e) -> {
            if (e == null) {
                sendTo(m, null, f); // one partition: no round-robin state per requester
            } else {
                f.completeExceptionally(new PublishException(replyTopic, "the requester's reply topic '" + replyTopic
                        + "' is not there (its requester closed, or the reply came after it gave up)", e, false));
            }
        });
        return f;
    }


    Admin admin() {
        return admin;
    }

    /**
     * Deletes a consumer group nobody uses any more (a closed broadcast subscription's), without
     * waiting; {@link #close()} waits for deletes still under way. Failures are only logged.
     */
    private void deleteGroup(String group) {
        try {
            KafkaFuture<Void> deleted = admin.deleteConsumerGroups(List.of(group)).all();
            groupDeletes.add(deleted);
            deleted.whenComplete((v, e) -> {
                groupDeletes.remove(deleted);
                if (e != null) {
                    log.debug("could not delete consumer group {}: {}", group, e.toString());
                }
            });
        } catch (RuntimeException e) {
            log.debug("could not delete consumer group {}: {}", group, e.toString()); // the admin client is closing
        }
    }

    @Override
    public void close() {
        replies.close();
        producer.close(settings.closeTimeout);
        confirms.settleAnswered(); // the producer has answered every record by now; none is left waiting for a sender
        for (KafkaFuture<Void> deleting : List.copyOf(groupDeletes)) {
            try {
                deleting.get(5, TimeUnit.SECONDS); // a closed admin client would refuse the delete's second step
            } catch (Exception e) {
                log.debug("a consumer group delete did not finish before close: {}", e.toString());
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        admin.close(Duration.ofSeconds(5));
    }
}
