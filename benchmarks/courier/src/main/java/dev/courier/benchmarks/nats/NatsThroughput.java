package dev.courier.benchmarks.nats;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.HeaderNames;
import dev.courier.Publisher;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.benchmarks.Comparison;
import io.nats.client.ConsumeOptions;
import io.nats.client.ConsumerContext;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.MessageConsumer;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PublishOptions;

import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.PublishAck;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.impl.Headers;

import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Courier over NATS against the plain jnats client, on the same server in the same JVM, rounds
 * alternating between the two:
 *
 * <ul>
 *   <li>core publish: {@code connection.publish(subject, bytes)} N times and one final
 *       {@code flush}, against Courier publishing to a core topic ({@code courier.nats.core-topics})
 *       with every stage awaited (each completes on a flush the binding shares between the
 *       publishes made meanwhile). Nobody subscribes: the server drops the messages on both sides.</li>
 *   <li>JetStream publish: {@code publishAsync} with at most {@code window} PubAcks outstanding
 *       (a semaphore), against Courier publishing to a JetStream topic (the binding bounds its
 *       window with {@code courier.nats.publish.max-pending}, set to the same {@code window}). Both
 *       write to the same file stream (limits retention, 2 minute duplicate window, Courier's
 *       defaults), purged after every run.</li>
 *   <li>JetStream consume: a durable pull consumer ({@code consume()} with batch size
 *       max(16, maxInFlight), as the binding asks), explicit ack per message,
 *       {@code max_ack_pending = maxInFlight}, against {@code courier.subscribe} with a no-op
 *       handler (a new group each run, concurrency 1 and 8, the same {@code maxInFlight}). Each run
 *       reads the same N messages, published by Courier once beforehand, from the start of the
 *       stream; the clock runs from the first message to the last.</li>
 * </ul>
 *
 * <p>All messages carry 1,000 keys (Courier: the {@code courier-key} header; the plain publisher
 * sends no headers). System properties: {@code messages} (100000), {@code payload} (1024),
 * {@code rounds} (3), {@code window} (1024), {@code maxInFlight} (256), {@code bench.nats.url}
 * ({@code nats://127.0.0.1:4222}), {@code bench.dir}. Subjects are {@code bench.nats.<run id>.*},
 * streams {@code bench_nats_<run id>_*}; the streams are deleted at the end.
 */
public final class NatsThroughput {

    private static final int MESSAGES = Integer.getInteger("messages", 100_000);
    private static final int PAYLOAD = Integer.getInteger("payload", 1024);
    private static final int ROUNDS = Integer.getInteger("rounds", 3);
    private static final int WINDOW = Integer.getInteger("window", 1024);
    private static final int MAX_IN_FLIGHT = Integer.getInteger("maxInFlight", 256);
    private static final String URL = System.getProperty("bench.nats.url", "nats://127.0.0.1:4222");
    private static final int KEYS = 1000;

    private NatsThroughput() {
    }

    public static void main(String[] args) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String coreTopic = "bench.nats." + run + ".core";
        String pubTopic = "bench.nats." + run + ".publish";
        String conTopic = "bench.nats." + run + ".consume";
        String pubStream = "bench_nats_" + run + "_publish";
        String conStream = "bench_nats_" + run + "_consume";
        byte[] payload = new byte[PAYLOAD];
        String[] keys = new String[KEYS];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = "key-" + i;
        }
        Comparison table = new Comparison(String.format(Locale.ROOT,
                "Courier vs plain jnats: %,d messages of %d B, JetStream file storage, publish window %d, maxInFlight %d, "
                        + "JDK %s, %d cores; median of %d rounds after a warm-up",
                MESSAGES, PAYLOAD, WINDOW, MAX_IN_FLIGHT, Runtime.version(), Runtime.getRuntime().availableProcessors(), ROUNDS),
                "plain jnats");
        Options options = new Options.Builder().server(URL).connectionName("courier-bench-plain").build();
        try (Connection conn = Nats.connect(options);
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(URL)
                     .set("courier.nats.core-topics", coreTopic)
                     .set("courier.nats.publish.max-pending", Integer.toString(WINDOW))
                     .set("courier.nats.connection-name", "courier-bench")
                     .build())) {
            JetStreamManagement jsm = conn.jetStreamManagement();
            JetStream js = conn.jetStream();
            jsm.addStream(stream(pubStream, pubTopic));
            jsm.addStream(stream(conStream, conTopic));
            try {
                Publisher publisher = courier.publisher();

                // ---- core publish
                double[] plain = new double[ROUNDS];
                double[] cou = new double[ROUNDS];
                rawCorePublish(conn, coreTopic, payload, MESSAGES / 4);
                Comparison.courierPublish(publisher, coreTopic, keys, payload, MESSAGES / 4);
                for (int r = 0; r < ROUNDS; r++) {
                    plain[r] = rawCorePublish(conn, coreTopic, payload, MESSAGES);
                    cou[r] = Comparison.courierPublish(publisher, coreTopic, keys, payload, MESSAGES);
                    Comparison.progress("core publish", r, plain[r], cou[r]);
                }
                table.row("core publish 1 KiB, no subscriber (plain: publish + one final flush)", plain, cou);
                plain = new double[ROUNDS];
                cou = new double[ROUNDS];
                for (int r = 0; r < ROUNDS; r++) {
                    plain[r] = rawCorePublishWithHeaders(conn, coreTopic, keys, payload, MESSAGES);
                    cou[r] = Comparison.courierPublish(publisher, coreTopic, keys, payload, MESSAGES);
                    Comparison.progress("core publish, plain with Courier's headers", r, plain[r], cou[r]);
                }
                table.row("core publish 1 KiB, plain sending Courier's four headers too", plain, cou);

                // ---- JetStream publish
                plain = new double[ROUNDS];
                cou = new double[ROUNDS];
                rawJetStreamPublish(js, pubTopic, payload, MESSAGES / 4);
                jsm.purgeStream(pubStream);
                Comparison.courierPublish(publisher, pubTopic, keys, payload, MESSAGES / 4);
                jsm.purgeStream(pubStream);
                for (int r = 0; r < ROUNDS; r++) {
                    plain[r] = rawJetStreamPublish(js, pubTopic, payload, MESSAGES);
                    jsm.purgeStream(pubStream);
                    cou[r] = Comparison.courierPublish(publisher, pubTopic, keys, payload, MESSAGES);
                    jsm.purgeStream(pubStream);
                    Comparison.progress("JetStream publish", r, plain[r], cou[r]);
                }
                table.row("JetStream publish 1 KiB, file stream (plain: publishAsync, window " + WINDOW + ")", plain, cou);
                plain = new double[ROUNDS];
                cou = new double[ROUNDS];
                for (int r = 0; r < ROUNDS; r++) {
                    plain[r] = rawJetStreamPublish(js, pubTopic, pubStream, keys, payload, MESSAGES);
                    jsm.purgeStream(pubStream);
                    cou[r] = Comparison.courierPublish(publisher, pubTopic, keys, payload, MESSAGES);
                    jsm.purgeStream(pubStream);
                    Comparison.progress("JetStream publish, plain with Courier's headers", r, plain[r], cou[r]);
                }
                table.row("JetStream publish 1 KiB, plain sending Courier's headers, Nats-Msg-Id and expected stream too", plain, cou);

                // ---- JetStream consume
                Comparison.courierPublish(publisher, conTopic, keys, payload, MESSAGES);
                int consumers = 0;
                for (int concurrency : new int[] {1, 8}) {
                    plain = new double[ROUNDS];
                    cou = new double[ROUNDS];
                    rawConsume(conn, jsm, conStream, conTopic, "plain" + consumers, MESSAGES / 4);
                    Comparison.courierConsume(courier, conTopic, "courier" + consumers++, concurrency, MAX_IN_FLIGHT, MESSAGES / 4);
                    for (int r = 0; r < ROUNDS; r++) {
                        plain[r] = rawConsume(conn, jsm, conStream, conTopic, "plain" + consumers, MESSAGES);
                        cou[r] = Comparison.courierConsume(courier, conTopic, "courier" + consumers++, concurrency, MAX_IN_FLIGHT, MESSAGES);
                        Comparison.progress("JetStream consume c=" + concurrency, r, plain[r], cou[r]);
                    }
                    table.row("JetStream consume no-op, pull, explicit ack per message, max_ack_pending " + MAX_IN_FLIGHT
                            + "; Courier concurrency " + concurrency + " (BY_KEY)", plain, cou);
                }
            } finally {
                jsm.deleteStream(pubStream);
                jsm.deleteStream(conStream);
            }
        }
        table.print("target/bench-brokers", "nats-results.md");
    }

    /** The stream settings Courier would provision for a topic (its defaults). */
    private static StreamConfiguration stream(String name, String subject) {
        return StreamConfiguration.builder()
                .name(name)
                .subjects(subject)
                .storageType(StorageType.File)
                .retentionPolicy(RetentionPolicy.Limits)
                .replicas(1)
                .duplicateWindow(Duration.ofMinutes(2))
                .maxAge(Duration.ofDays(7))
                .build();
    }

    static double rawCorePublish(Connection conn, String subject, byte[] payload, int n) throws Exception {
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            conn.publish(subject, payload);
        }
        conn.flush(Duration.ofMinutes(1));
        return Comparison.rate(n, System.nanoTime() - start);
    }

    /** What Courier puts on the wire besides the payload: id, content type, timestamp and key headers. */
    private static Headers courierLikeHeaders(String id, String key) {
        Headers h = new Headers();
        h.put(HeaderNames.MESSAGE_ID, id);
        h.put(HeaderNames.CONTENT_TYPE, "application/octet-stream");
        h.put(HeaderNames.TIMESTAMP, Long.toString(System.currentTimeMillis()));
        h.put(HeaderNames.KEY, key);
        return h;
    }

    private static String newId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return new UUID(r.nextLong(), r.nextLong()).toString();
    }

    static double rawCorePublishWithHeaders(Connection conn, String subject, String[] keys, byte[] payload, int n) throws Exception {
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            conn.publish(subject, courierLikeHeaders(newId(), keys[i % keys.length]), payload);
        }
        conn.flush(Duration.ofMinutes(1));
        return Comparison.rate(n, System.nanoTime() - start);
    }

    static double rawJetStreamPublish(JetStream js, String subject, byte[] payload, int n) throws Exception {
        return rawJetStreamPublish(js, subject, null, null, payload, n);
    }

    /**
     * With {@code stream} set, each message also carries Courier's headers, its id as
     * {@code Nats-Msg-Id} and the expected stream, as the binding sends them.
     */
    static double rawJetStreamPublish(JetStream js, String subject, String stream, String[] keys, byte[] payload, int n)
            throws Exception {
        Semaphore window = new Semaphore(WINDOW);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            window.acquire();
            CompletableFuture<PublishAck> sent;
            if (stream == null) {
                sent = js.publishAsync(subject, payload);
            } else {
                String id = newId();
                sent = js.publishAsync(subject, courierLikeHeaders(id, keys[i % keys.length]), payload,
                        PublishOptions.builder().messageId(id).expectedStream(stream).build());
            }
            sent.whenComplete((ack, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                window.release();
            });
        }
        if (!window.tryAcquire(WINDOW, 5, TimeUnit.MINUTES)) {
            throw new IllegalStateException("plain JetStream publishes never acknowledged");
        }
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) {
            throw new IllegalStateException("a plain JetStream publish failed", failure.get());
        }
        return Comparison.rate(n, nanos);
    }

    static double rawConsume(Connection conn, JetStreamManagement jsm, String stream, String subject, String durable, int n)
            throws Exception {
        jsm.addOrUpdateConsumer(stream, ConsumerConfiguration.builder()
                .durable(durable)
                .filterSubject(subject)
                .ackPolicy(AckPolicy.Explicit)
                .ackWait(Duration.ofSeconds(30))
                .maxAckPending(MAX_IN_FLIGHT)
                .deliverPolicy(DeliverPolicy.All)
                .build());
        ConsumerContext ctx = conn.jetStream().getConsumerContext(stream, durable);
        AtomicInteger seen = new AtomicInteger();
        AtomicLong first = new AtomicLong();
        long[] last = new long[1];
        CountDownLatch done = new CountDownLatch(1);
        ConsumeOptions co = ConsumeOptions.builder().batchSize(Math.max(16, MAX_IN_FLIGHT)).build();
        try (MessageConsumer consumer = ctx.consume(co, m -> {
            if (first.get() == 0) {
                first.compareAndSet(0, System.nanoTime());
            }
            m.ack();
            if (seen.incrementAndGet() == n) {
                last[0] = System.nanoTime();
                done.countDown();
            }
        })) {
            if (!done.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("the plain consumer received only " + seen.get() + " of " + n);
            }
            consumer.stop();
        } finally {
            jsm.deleteConsumer(stream, durable);
        }
        return Comparison.rate(n, last[0] - first.get());
    }

}
