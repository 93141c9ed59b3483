package dev.courier.kafka;

import dev.courier.ClosedException;
import dev.courier.HeaderNames;
import dev.courier.Message;
import dev.courier.RequestTimeoutException;
import dev.courier.spi.BindingContext;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Request-reply over Kafka: each binding instance owns a one-partition reply topic
 * {@code courier.replies.<id>}, read by its own consumer from the end. Requests carry it in
 * {@link HeaderNames#REPLY_TO}; replies are matched by correlation id and completed on the handler
 * executor. Pending requests are removed at their timeout and failed on the handler executor too,
 * and the reply topic is deleted when the binding closes.
 */
final class KafkaReplies {

    private static final Logger log = LoggerFactory.getLogger(KafkaReplies.class);

    private final KafkaBinding binding;
    private final BindingContext context;
    private final String replyTopic = "courier.replies." + UUID.randomUUID().toString().replace("-", "");
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private CompletableFuture<Void> ready;
    /** The reply topic's creation, once started: close() deletes the topic whenever it was started, done or not. */
    private CompletableFuture<Integer> created;
    private volatile boolean closed;
    private Thread thread;
    private KafkaConsumer<String, byte[]> consumer;

    private static final class Pending {
        final CompletableFuture<Message> reply = new CompletableFuture<>();
        ScheduledFuture<?> timer;
    }

    KafkaReplies(KafkaBinding binding, BindingContext context) {
        this.binding = binding;
        this.context = context;
    }

    CompletionStage<Message> request(Message request, Duration timeout) {
        String correlation = request.header(HeaderNames.CORRELATION_ID);
        Pending p = new Pending();
        if (pending.putIfAbsent(correlation, p) != null) {
            // replacing it would leave the waiting request without its reply and without its timeout
            return CompletableFuture.failedFuture(new IllegalArgumentException("a request with correlation id " + correlation
                    + " is already waiting; give each request its own " + HeaderNames.CORRELATION_ID));
        }
        p.timer = context.scheduler().schedule(() -> {
            if (pending.remove(correlation, p)) {
                fail(p, new RequestTimeoutException(request.topic(), timeout));
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        Message sent = request.toBuilder().header(HeaderNames.REPLY_TO, replyTopic).build();
        listening().thenCompose(v -> {
            if (pending.get(correlation) != p) {
                // timed out while the reply topic was being set up, and reported as such: sending it now would have the
                // responder run a request its caller may already be retrying (as a publish that timed out waiting for its
                // topic is not sent later either)
                return CompletableFuture.completedFuture(null);
            }
            return binding.publish(sent);
        }).whenComplete((r, e) -> {
            if (e != null && pending.remove(correlation, p)) {
                p.timer.cancel(false);
                // the publish may fail on the scheduler's thread too (its topic not ready in time)
                fail(p, e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e);
            }
        });
        return p.reply;
    }

    /** Starts the reply consumer on first use; completes once it reads from the end of the reply topic. */
    private synchronized CompletableFuture<Void> listening() {
        if (ready != null) {
            return ready;
        }
        ready = new CompletableFuture<>();
        CompletableFuture<Void> r = ready;
        // the binding's own topic, named per instance: created whatever the provisioning setting, as nobody could create it beforehand
        created = binding.ensureOwnTopic(replyTopic, 1);
        created.whenComplete((n, e) -> {
            if (e != null) {
                synchronized (this) {
                    ready = null;
                }
                r.completeExceptionally(e);
                return;
            }
            synchronized (this) {
                if (closed) {
                    // closed while the topic was being created: close() deletes it; no consumer for a closed binding
                    r.completeExceptionally(ClosedException.cutShort("a request"));
                    return;
                }
                thread = new Thread(() -> run(r, n), "courier-kafka-replies");
                thread.setDaemon(true);
                thread.start();
            }
        });
        return r;
    }

    private void run(CompletableFuture<Void> started, int partitions) {
        Map<String, Object> props = new HashMap<>(binding.settings.consumer);
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        try (KafkaConsumer<String, byte[]> c = KafkaSettings.client("reply consumer", props, KafkaConsumer<String, byte[]>::new)) {
            synchronized (this) {
                consumer = c;
            }
            // every partition, in case someone created the reply topic with more than one; the count comes from the
            // admin client because a consumer's metadata may not list a topic created a moment ago
            List<TopicPartition> all = java.util.stream.IntStream.range(0, partitions)
                    .mapToObj(p -> new TopicPartition(replyTopic, p)).toList();
            c.assign(all);
            c.seekToEnd(all);
            all.forEach(c::position);
            started.complete(null);
            while (!closed) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    Message reply;
                    try {
                        reply = KafkaMessages.toMessage(r);
                    } catch (RuntimeException e) {
                        // one record no reply could be made of (written by something else): skip it, keep serving the others
                        log.warn("skipped record {}-{}@{} of reply topic '{}': {}", r.topic(), r.partition(), r.offset(), replyTopic, e.toString());
                        continue;
                    }
                    String correlation = reply.header(HeaderNames.CORRELATION_ID);
                    Pending p = correlation == null ? null : pending.remove(correlation);
                    if (p != null) {
                        p.timer.cancel(false);
                        complete(p, reply);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            if (started.completeExceptionally(e)) {
                return; // never started (a consumer setting it refused): the requests waiting for it, and later ones, fail with e
            }
            if (!closed) {
                log.error("Kafka reply consumer for '{}' stopped; requests will time out", replyTopic, e);
            }
        }
    }

    /**
     * Completes a request off the reply consumer's thread, on the handler executor: what the requester
     * chains onto the reply runs there, and a callback that is slow or waits for another request's reply
     * on the one consumer thread would hold up every reply of the Courier (that one included). Inline
     * only when the executor refuses it, as the Courier is closing.
     */
    private void complete(Pending p, Message reply) {
        try {
            context.handlerExecutor().execute(() -> p.reply.complete(reply));
        } catch (RejectedExecutionException e) {
            p.reply.complete(reply);
        }
    }

    /**
     * Fails a request on the handler executor, for the same reason: a request times out on the
     * scheduler's thread, and a callback on the failure that blocks there (a retry waiting for its own
     * reply, say) would hold up the Courier's one timer thread, and with it every other request's
     * timeout and the publish timeouts. Inline only when the executor refuses it, as the Courier is closing.
     */
    private void fail(Pending p, Throwable e) {
        try {
            context.handlerExecutor().execute(() -> p.reply.completeExceptionally(e));
        } catch (RejectedExecutionException rejected) {
            p.reply.completeExceptionally(e);
        }
    }

    /**
     * Stops the reply consumer and deletes the reply topic if its creation was ever started: also while
     * the first request is still creating it (waiting up to 5 s for that to finish first, so the delete
     * does not come before the creation), or the topic would stay on the broker for good.
     */
    void close() {
        Thread t;
        KafkaConsumer<String, byte[]> c;
        CompletableFuture<Integer> topic;
        synchronized (this) {
            closed = true;
            t = thread;
            c = consumer;
            topic = created;
        }
        if (c != null) {
            c.wakeup();
        }
        if (t != null) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (topic == null) {
            return;
        }
        try {
            topic.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("reply topic {} was not created: {}", replyTopic, e.toString()); // deleted all the same, in case it was
        }
        try {
            binding.admin().deleteTopics(List.of(replyTopic)).all().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            log.debug("could not delete reply topic {}: {}", replyTopic, e.toString());
        }
    }
}
