package dev.courier.benchmarks.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.MessageProperties;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Publisher;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.benchmarks.Comparison;

import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Courier over RabbitMQ against the plain amqp-client, on the same broker in the same JVM, rounds
 * alternating between the two:
 *
 * <ul>
 *   <li>publish: {@code basicPublish} on a confirm channel with an asynchronous confirm listener
 *       and a sliding window of at most {@code window} unconfirmed messages (a sorted map of
 *       sequence numbers; a {@code multiple} ack settles the prefix), against
 *       {@code courier.publisher().publish(topic, key, bytes)} with every stage awaited at the end.
 *       Both: the same durable topic exchange with a durable queue bound with {@code #},
 *       persistent messages (delivery mode 2), 1,000 keys as routing keys. The queue is purged
 *       after every run.</li>
 *   <li>consume: {@code basicConsume} with manual acks, one {@code basicAck} per message and
 *       {@code basicQos(maxInFlight)}, against {@code courier.subscribe} (group, no-op handler,
 *       concurrency 1 and 8, the same {@code maxInFlight}, which the binding uses as prefetch). The
 *       queue is filled by Courier before each run (untimed), so both sides read messages as
 *       Courier publishes them; the clock runs from the first message to the last.</li>
 * </ul>
 *
 * <p>System properties: {@code messages} (50000), {@code payload} (1024), {@code rounds} (3),
 * {@code window} (plain publisher's unconfirmed bound, 1024), {@code maxInFlight} (256),
 * {@code bench.rabbitmq.url} ({@code amqp://guest:guest@127.0.0.1:5672/%2F}), {@code bench.dir}.
 * Everything is named {@code bench.rmq.<run id>.*} and deleted at the end.
 */
public final class RabbitThroughput {

    private static final int MESSAGES = Integer.getInteger("messages", 50_000);
    private static final int PAYLOAD = Integer.getInteger("payload", 1024);
    private static final int ROUNDS = Integer.getInteger("rounds", 3);
    private static final int WINDOW = Integer.getInteger("window", 1024);
    private static final int MAX_IN_FLIGHT = Integer.getInteger("maxInFlight", 256);
    private static final String URL = System.getProperty("bench.rabbitmq.url", "amqp://guest:guest@127.0.0.1:5672/%2F");
    private static final int KEYS = 1000;
    private static final String GROUP = "bench";

    private RabbitThroughput() {
    }

    public static void main(String[] args) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String pubTopic = "bench.rmq." + run + ".publish";
        String pubQueue = pubTopic + ".q";
        String conTopic = "bench.rmq." + run + ".consume";
        String conQueue = conTopic + "." + GROUP; // the queue Courier's group GROUP consumes
        byte[] payload = new byte[PAYLOAD];
        String[] keys = new String[KEYS];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = "key-" + i;
        }
        Comparison table = new Comparison(String.format(Locale.ROOT,
                "Courier vs plain amqp-client: %,d messages of %d B, persistent, durable topic exchange + durable classic queue, "
                        + "plain publish window %d, prefetch = maxInFlight %d, JDK %s, %d cores; median of %d rounds after a warm-up",
                MESSAGES, PAYLOAD, WINDOW, MAX_IN_FLIGHT, Runtime.version(), Runtime.getRuntime().availableProcessors(), ROUNDS),
                "plain amqp-client");
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(URL);
        factory.setConnectionTimeout(15_000);
        try (Connection conn = factory.newConnection("courier-bench-plain");
             Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url(URL)
                     .set("courier.rabbitmq.persistent", "true")
                     .set("courier.rabbitmq.connection-name", "courier-bench")
                     .build())) {
            try (Channel admin = conn.createChannel()) {
                admin.exchangeDeclare(pubTopic, BuiltinExchangeType.TOPIC, true);
                admin.queueDeclare(pubQueue, true, false, false, null);
                admin.queueBind(pubQueue, pubTopic, "#");
                admin.exchangeDeclare(conTopic, BuiltinExchangeType.TOPIC, true);
                admin.queueDeclare(conQueue, true, false, false, null);
                admin.queueBind(conQueue, conTopic, "#");
            }
            try {
                Publisher publisher = courier.publisher();

                // ---- publish
                double[] plain = new double[ROUNDS];
                double[] cou = new double[ROUNDS];
                rawPublish(conn, pubTopic, keys, payload, MESSAGES / 4);
                purge(conn, pubQueue);
                Comparison.courierPublish(publisher, pubTopic, keys, payload, MESSAGES / 4);
                purge(conn, pubQueue);
                for (int r = 0; r < ROUNDS; r++) {
                    plain[r] = rawPublish(conn, pubTopic, keys, payload, MESSAGES);
                    purge(conn, pubQueue);
                    cou[r] = Comparison.courierPublish(publisher, pubTopic, keys, payload, MESSAGES);
                    purge(conn, pubQueue);
                    Comparison.progress("publish", r, plain[r], cou[r]);
                }
                table.row("publish 1 KiB persistent, confirms (plain: async listener, window " + WINDOW + ")", plain, cou);

                // ---- consume
                for (int concurrency : new int[] {1, 8}) {
                    plain = new double[ROUNDS];
                    cou = new double[ROUNDS];
                    fill(publisher, conTopic, keys, payload, MESSAGES / 4);
                    rawConsume(conn, conQueue, MESSAGES / 4);
                    fill(publisher, conTopic, keys, payload, MESSAGES / 4);
                    Comparison.courierConsume(courier, conTopic, GROUP, concurrency, MAX_IN_FLIGHT, MESSAGES / 4);
                    for (int r = 0; r < ROUNDS; r++) {
                        fill(publisher, conTopic, keys, payload, MESSAGES);
                        plain[r] = rawConsume(conn, conQueue, MESSAGES);
                        fill(publisher, conTopic, keys, payload, MESSAGES);
                        cou[r] = Comparison.courierConsume(courier, conTopic, GROUP, concurrency, MAX_IN_FLIGHT, MESSAGES);
                        Comparison.progress("consume c=" + concurrency, r, plain[r], cou[r]);
                    }
                    table.row("consume no-op, manual ack per message, prefetch " + MAX_IN_FLIGHT + "; Courier concurrency "
                            + concurrency + " (BY_KEY)", plain, cou);
                }
            } finally {
                try (Channel admin = conn.createChannel()) {
                    admin.queueDelete(pubQueue);
                    admin.queueDelete(conQueue);
                    admin.exchangeDelete(pubTopic);
                    admin.exchangeDelete(conTopic);
                }
            }
        }
        table.print("target/bench-brokers", "rabbitmq-results.md");
    }

    private static void purge(Connection conn, String queue) throws Exception {
        try (Channel ch = conn.createChannel()) {
            ch.queuePurge(queue);
        }
    }

    /** Publishes with asynchronous confirms, at most {@link #WINDOW} unconfirmed; returns messages per second. */
    static double rawPublish(Connection conn, String exchange, String[] keys, byte[] payload, int n) throws Exception {
        try (Channel ch = conn.createChannel()) {
            ch.confirmSelect();
            ConcurrentNavigableMap<Long, Boolean> outstanding = new ConcurrentSkipListMap<>();
            Semaphore window = new Semaphore(WINDOW);
            AtomicInteger nacked = new AtomicInteger();
            ch.addConfirmListener((seq, multiple) -> settle(outstanding, window, seq, multiple),
                    (seq, multiple) -> nacked.addAndGet(settle(outstanding, window, seq, multiple)));
            AMQP.BasicProperties props = MessageProperties.PERSISTENT_BASIC;
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                window.acquire();
                outstanding.put(ch.getNextPublishSeqNo(), Boolean.TRUE);
                ch.basicPublish(exchange, keys[i % keys.length], props, payload);
            }
            if (!window.tryAcquire(WINDOW, 5, TimeUnit.MINUTES)) {
                throw new IllegalStateException(outstanding.size() + " publishes never confirmed");
            }
            long nanos = System.nanoTime() - start;
            if (nacked.get() > 0) {
                throw new IllegalStateException(nacked.get() + " plain publishes were nacked");
            }
            return Comparison.rate(n, nanos);
        }
    }

    private static int settle(ConcurrentNavigableMap<Long, Boolean> outstanding, Semaphore window, long seq, boolean multiple) {
        int settled = 0;
        if (multiple) {
            ConcurrentNavigableMap<Long, Boolean> prefix = outstanding.headMap(seq, true);
            while (prefix.pollFirstEntry() != null) {
                settled++;
            }
        } else if (outstanding.remove(seq) != null) {
            settled = 1;
        }
        window.release(settled);
        return settled;
    }

    /** Puts {@code n} messages in the consume queue as Courier publishes them (not timed). */
    private static void fill(Publisher publisher, String topic, String[] keys, byte[] payload, int n) throws InterruptedException {
        Comparison.courierPublish(publisher, topic, keys, payload, n);
    }

    static double rawConsume(Connection conn, String queue, int n) throws Exception {
        try (Channel ch = conn.createChannel()) {
            ch.basicQos(MAX_IN_FLIGHT);
            CountDownLatch done = new CountDownLatch(1);
            long[] clock = new long[2];
            String tag = ch.basicConsume(queue, false, new DefaultConsumer(ch) {
                private int seen;

                @Override
                public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties properties, byte[] body)
                        throws java.io.IOException {
                    // the consumer's deliveries are dispatched one at a time: no synchronisation needed
                    if (seen++ == 0) {
                        clock[0] = System.nanoTime();
                    }
                    getChannel().basicAck(envelope.getDeliveryTag(), false);
                    if (seen == n) {
                        clock[1] = System.nanoTime();
                        done.countDown();
                    }
                }
            });
            if (!done.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("the plain consumer did not receive " + n + " messages");
            }
            ch.basicCancel(tag);
            return Comparison.rate(n, clock[1] - clock[0]);
        }
    }

}
