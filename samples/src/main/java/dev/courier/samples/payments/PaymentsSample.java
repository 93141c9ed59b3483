package dev.courier.samples.payments;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.Outcome;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A parallel consumer that crashes and restarts without losing or double-applying a payment.
 *
 * <p>A producer publishes payments for many accounts (the message key), each account's payments
 * numbered 1, 2, 3, ... A ledger consumer applies them with a slow handler, {@code concurrency}
 * handlers at once and {@link Ordering#BY_KEY} (one account at a time, in order). The run prints
 * progress: payments processed, the settled position (every payment up to it, in publish order,
 * was acknowledged) and the lag behind the producer. Part-way through, the consumer "crashes": its
 * subscription is closed without waiting for running handlers and its Courier closed. Handlers that
 * were running finish their ledger update but their acknowledgement is lost, so the broker delivers
 * those payments again to the restarted consumer (same group). The ledger keeps the applied
 * sequence numbers of each account, so the handler recognises such a redelivery and ignores it.
 * At the end every account's balance must equal the sum of its payments.
 *
 * <p>Needs a binding that redelivers unacknowledged messages to a restarted group member:
 * {@code mem://} (default), Kafka, RabbitMQ and NATS JetStream do.
 */
public final class PaymentsSample {

    /** One payment: the {@code sequence}-th payment of {@code account}; {@code index} is its place in publish order. */
    public record Payment(int index, String account, int sequence, long amountCents) {
    }

    /** Settings of a run. */
    public record Settings(int accounts, int paymentsPerAccount, int concurrency, Duration handlerTime, double crashAt) {

        /** The defaults: 20 accounts x 15 payments, 8 handlers, 10 ms each, crash after 40%. */
        public static Settings defaults() {
            return new Settings(20, 15, 8, Duration.ofMillis(10), 0.4);
        }

        int total() {
            return accounts * paymentsPerAccount;
        }
    }

    /**
     * What the run did.
     *
     * @param applied            payments applied to the ledger (each at most once)
     * @param duplicatesIgnored  deliveries of payments the ledger had already applied
     * @param beforeCrash        payments applied by the first consumer
     * @param settledAtCrash     the settled position when the consumer crashed
     * @param redeliveredSettled deliveries after the restart of payments at or below that position
     * @param balancesMatch      whether every account's balance equals the sum of its payments
     */
    public record Summary(int published, int applied, int duplicatesIgnored, int beforeCrash, int settledAtCrash,
                          int redeliveredSettled, boolean balancesMatch) {
    }

    /** Config key: how long each phase may take before the run fails (default 90s). */
    public static final String TIMEOUT = "courier.sample.timeout";

    private PaymentsSample() {
    }

    /**
     * Runs the payments sample on the broker of {@code courier.url} / {@code COURIER_URL};
     * exit code 0 when nothing was lost or applied twice.
     */
    public static void main(String[] args) {
        CourierConfig config = CourierConfig.load();
        try {
            Summary s = run(config, Settings.defaults(), System.out);
            System.exit(s.balancesMatch() && s.applied() == s.published() ? 0 : 1);
        } catch (RuntimeException e) {
            System.err.println("payments sample failed on " + CourierConfig.maskUrl(config.url()) + ": " + e.getMessage());
            System.exit(1);
        }
    }

    /** Runs producer, consumer, crash and restart against the broker of {@code config}. */
    public static Summary run(CourierConfig config, Settings settings, PrintStream out) {
        String topic = "payments." + Long.toString(System.currentTimeMillis(), 36) + Integer.toString((int) (Math.random() * 1296), 36);
        Timeline timeline = new Timeline(out);
        List<Payment> payments = payments(settings);
        Map<String, Long> expected = new TreeMap<>();
        payments.forEach(p -> expected.merge(p.account(), p.amountCents(), Long::sum));
        Ledger ledger = new Ledger();
        Progress progress = new Progress(settings.total());
        Duration timeout = config.duration(TIMEOUT, Duration.ofSeconds(90));

        // the producer's Courier stays up across the consumer's crash (it also keeps a mem:// broker alive)
        try (Courier producer = Courier.connect(config)) {
            timeline.note("payments sample on %s (%s binding): %d accounts x %d payments, %d handlers of %d ms",
                    CourierConfig.maskUrl(producer.url()), producer.capabilities().binding(), settings.accounts(),
                    settings.paymentsPerAccount(), settings.concurrency(), settings.handlerTime().toMillis());
            Subscribe spec = Subscribe.to(topic).group("ledger").concurrency(settings.concurrency())
                    .ordering(Ordering.BY_KEY).maxInFlight(4 * settings.concurrency()).redeliveryDelay(Duration.ofMillis(200));

            int crashAt = Math.max(1, (int) (settings.total() * settings.crashAt()));
            CrashPoint crashPoint = new CrashPoint(crashAt);
            Consumer first = new Consumer("consumer-1", config, spec, ledger, progress, timeline, settings.handlerTime(), crashPoint);
            Thread publishing = startPublishing(producer, topic, payments, progress, timeline);

            awaitUntil(() -> crashPoint.reached.getCount() == 0, timeout, "the first consumer to apply " + crashAt + " payments",
                    progress, ledger);
            int settledAtCrash = first.crash();
            int beforeCrash = ledger.appliedCount();
            timeline.event("consumer-1", "CRASH after %d applied; settled position %d, %d published",
                    beforeCrash, settledAtCrash, progress.published.get());

            Consumer second = new Consumer("consumer-2", config, spec, ledger, progress, timeline, settings.handlerTime(), null);
            timeline.event("consumer-2", "restarted in group 'ledger'");
            awaitUntil(() -> progress.published.get() == settings.total() && ledger.appliedCount() == settings.total()
                            && progress.settledPosition() == settings.total(),
                    timeout, "every payment to be applied and settled", progress, ledger);
            second.close();
            join(publishing);

            Map<String, Long> balances = ledger.balances();
            boolean match = balances.equals(expected);
            if (!match) {
                expected.forEach((a, want) -> {
                    if (!want.equals(balances.get(a))) {
                        timeline.note("  %s: balance %s, expected %d", a, balances.get(a), want);
                    }
                });
            }
            Summary s = new Summary(progress.published.get(), ledger.appliedCount(), progress.duplicates.get(), beforeCrash,
                    settledAtCrash, progress.redeliveredSettled.get(), match);
            timeline.note("summary: %d published, %d applied (%d before the crash), %d redeliveries ignored as already applied, "
                            + "%d settled payments processed again, balances %s",
                    s.published(), s.applied(), s.beforeCrash(), s.duplicatesIgnored(), s.redeliveredSettled(),
                    match ? "all match" : "DO NOT MATCH");
            return s;
        }
    }

    static List<Payment> payments(Settings settings) {
        List<Payment> list = new ArrayList<>(settings.total());
        int index = 0;
        for (int seq = 1; seq <= settings.paymentsPerAccount(); seq++) {
            for (int a = 0; a < settings.accounts(); a++) {
                long amount = 100 + (a * 37L + seq * 101L) % 900;
                list.add(new Payment(index++, String.format("acct-%03d", a), seq, amount));
            }
        }
        return list;
    }

    private static Thread startPublishing(Courier producer, String topic, List<Payment> payments, Progress progress,
                                          Timeline timeline) {
        Thread t = new Thread(() -> {
            int batch = 25;
            for (int i = 0; i < payments.size(); i += batch) {
                List<Message> messages = new ArrayList<>();
                for (Payment p : payments.subList(i, Math.min(i + batch, payments.size()))) {
                    messages.add(producer.publisher().message(topic, p).key(p.account()).build());
                }
                producer.publisher().publishAll(messages).toCompletableFuture().join();
                progress.published.addAndGet(messages.size());
                try {
                    Thread.sleep(15);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            timeline.event("producer", "all %d payments published", payments.size());
        }, "payments-producer");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Counters shared by the producer, both consumers and the progress lines. */
    static final class Progress {
        final int total;
        final AtomicInteger published = new AtomicInteger();
        final AtomicInteger processed = new AtomicInteger();
        final AtomicInteger duplicates = new AtomicInteger();
        final AtomicInteger redeliveredSettled = new AtomicInteger();
        private final BitSet acked = new BitSet();
        private int settledPosition;
        private int settledAtCrash = -1;

        Progress(int total) {
            this.total = total;
        }

        /** Records an acknowledgement; returns the new settled position. */
        synchronized int acked(int index) {
            acked.set(index);
            settledPosition = acked.nextClearBit(0);
            return settledPosition;
        }

        synchronized int settledPosition() {
            return settledPosition;
        }

        /** Whether {@code index} was at or below the settled position when the consumer crashed. */
        synchronized boolean settledBeforeCrash(int index) {
            return settledAtCrash >= 0 && index < settledAtCrash;
        }

        /** Remembers the settled position at the crash and returns it. */
        synchronized int freezeAtCrash() {
            settledAtCrash = settledPosition;
            return settledAtCrash;
        }
    }

    /** Where the first consumer crashes: right after the {@code at}-th payment was applied, before it is acknowledged. */
    private static final class CrashPoint {
        final int at;
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch crashed = new CountDownLatch(1);

        CrashPoint(int at) {
            this.at = at;
        }

        /** Blocks the handler until the consumer is gone, even if close interrupts it. */
        void awaitCrash() {
            boolean interrupted = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                try {
                    if (crashed.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                        break;
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One incarnation of the ledger consumer: its own Courier, one subscription in group "ledger". */
    private static final class Consumer {
        private final String name;
        private final Courier courier;
        private final Subscription subscription;
        private final Progress progress;
        private final CrashPoint crashPoint;

        Consumer(String name, CourierConfig config, Subscribe spec, Ledger ledger, Progress progress, Timeline timeline,
                 Duration handlerTime, CrashPoint crashPoint) {
            this.name = name;
            this.progress = progress;
            this.crashPoint = crashPoint;
            this.courier = Courier.builder().config(config).listener(new CourierListener() {
                @Override
                public void settled(Delivery delivery, Outcome outcome) {
                    // an acknowledgement given after the crash may be lost; its payment then comes back
                    // and is acknowledged again, so the settled position still ends at the total
                    if (outcome.kind() != Outcome.Kind.ACK) {
                        return;
                    }
                    int index = delivery.payload(Payment.class).index();
                    int before = progress.settledPosition();
                    int after = progress.acked(index);
                    if (after / 50 > before / 50 || after == progress.total) {
                        int published = progress.published.get();
                        timeline.event(name, "processed %d, settled position %d, published %d, lag %d",
                                progress.processed.get(), after, published, published - after);
                    }
                }
            }).connect();
            this.subscription = courier.subscribe(spec, d -> {
                Payment p = d.payload(Payment.class);
                if (progress.settledBeforeCrash(p.index())) {
                    progress.redeliveredSettled.incrementAndGet();
                }
                Thread.sleep(handlerTime.toMillis()); // the slow part: a call to the bank
                if (ledger.apply(p)) {
                    int processed = progress.processed.incrementAndGet();
                    if (crashPoint != null && processed == crashPoint.at) {
                        // the crash strikes after this payment was written, before its acknowledgement
                        crashPoint.reached.countDown();
                        crashPoint.awaitCrash();
                    }
                } else {
                    progress.duplicates.incrementAndGet();
                    timeline.event(name, "payment %d of %s was already applied: redelivery ignored", p.sequence(), p.account());
                }
            });
        }

        /**
         * Stops abruptly: running handlers are abandoned, their messages stay unacknowledged.
         * Returns the settled position at that moment.
         */
        int crash() {
            int settled = progress.freezeAtCrash();
            subscription.close(Duration.ZERO);
            if (crashPoint != null) {
                crashPoint.crashed.countDown(); // the handler that was writing at the crash may return now: too late to ack
            }
            courier.close();
            return settled;
        }

        void close() {
            subscription.close();
            courier.close();
        }
    }

    private static void awaitUntil(java.util.function.BooleanSupplier condition, Duration timeout, String what,
                                   Progress progress, Ledger ledger) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + "s waiting for " + what
                        + ": published " + progress.published.get() + ", applied " + ledger.appliedCount()
                        + ", settled position " + progress.settledPosition() + " of " + progress.total
                        + ". Is the broker reachable? Raise -D" + TIMEOUT + " on a slow machine.");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + what, e);
            }
        }
    }

    private static void join(Thread t) {
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
