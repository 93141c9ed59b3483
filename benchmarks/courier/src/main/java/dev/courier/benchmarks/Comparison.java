package dev.courier.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A "plain client vs Courier" table: each row holds the rounds of both sides measured in the same
 * run; the table shows their medians and the ratio Courier / plain. Progress goes to stderr.
 */
public final class Comparison {

    private final String title;
    private final String plainName;
    private final List<String> rows = new ArrayList<>();

    public Comparison(String title, String plainName) {
        this.title = title;
        this.plainName = plainName;
    }

    public static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    public static void progress(String what, int round, double plain, double courier) {
        System.err.printf(Locale.ROOT, "  %s round %d: plain %,.0f msg/s, Courier %,.0f msg/s (%.2f)%n",
                what, round + 1, plain, courier, courier / plain);
    }

    public void row(String name, double[] plain, double[] courier) {
        double p = median(plain);
        double c = median(courier);
        rows.add(String.format(Locale.ROOT, "| %s | %,.0f msg/s | %,.0f msg/s | %.2f |", name, p, c, c / p));
    }

    public String render() {
        StringBuilder sb = new StringBuilder(title).append("\n\n");
        sb.append("| benchmark | ").append(plainName).append(" | Courier | Courier / plain |\n");
        sb.append("| --- | --- | --- | --- |\n");
        rows.forEach(r -> sb.append(r).append('\n'));
        return sb.toString();
    }

    /** Prints the table and writes it to {@code <bench.dir>/<file>}. */
    public void print(String defaultDir, String file) throws IOException {
        String table = render();
        System.out.println();
        System.out.println(table);
        Path dir = Path.of(System.getProperty("bench.dir", defaultDir));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(file), table, StandardCharsets.UTF_8);
    }

    /** Messages per second of {@code n} messages in {@code nanos}. */
    public static double rate(int n, long nanos) {
        return n / (nanos / 1e9);
    }

    /**
     * Courier's side of a consume row: a group subscription with a no-op handler, timed from the
     * first delivery to the {@code n}-th.
     */
    public static double courierConsume(dev.courier.Courier courier, String topic, String group, int concurrency,
                                        int maxInFlight, int n) throws InterruptedException {
        java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicLong first = new java.util.concurrent.atomic.AtomicLong();
        long[] last = new long[1];
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        dev.courier.Subscription sub = courier.subscribe(dev.courier.Subscribe.to(topic).group(group).concurrency(concurrency)
                .maxInFlight(maxInFlight), d -> {
            if (first.get() == 0) {
                first.compareAndSet(0, System.nanoTime());
            }
            if (seen.incrementAndGet() == n) {
                last[0] = System.nanoTime();
                done.countDown();
            }
        });
        try {
            if (!done.await(5, java.util.concurrent.TimeUnit.MINUTES)) {
                throw new IllegalStateException("only " + seen.get() + " of " + n + " messages handled");
            }
        } finally {
            sub.close();
        }
        return rate(n, last[0] - first.get());
    }

    /** Courier's side of a publish row: {@code n} keyed messages without waiting per message, then every stage. */
    public static double courierPublish(dev.courier.Publisher publisher, String topic, String[] keys, byte[] payload, int n)
            throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(n);
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            publisher.publish(topic, keys[i % keys.length], payload).whenComplete((receipt, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                done.countDown();
            });
        }
        if (!done.await(5, java.util.concurrent.TimeUnit.MINUTES)) {
            throw new IllegalStateException(done.getCount() + " Courier publishes never completed");
        }
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) {
            throw new IllegalStateException("a Courier publish failed", failure.get());
        }
        return rate(n, nanos);
    }
}
