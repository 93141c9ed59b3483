package dev.courier.benchmarks;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Message;
import dev.courier.Ordering;
import dev.courier.Publisher;
import dev.courier.Subscribe;
import dev.courier.Subscription;

import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Publish-to-consume throughput of the in-memory broker: one publisher thread publishes N
 * pre-built messages without waiting per message while a group subscription consumes them;
 * the clock stops when the last one was handled. Prints messages per second for several
 * concurrency and ordering settings, each after a warm-up run.
 *
 * <p>Run: {@code ./mvnw -q -pl benchmarks/courier -am compile exec:java -Dcourier.sample=dev.courier.benchmarks.MemoryThroughput}
 * (optional {@code -Dmessages=1000000 -Dpayload=100 -Drounds=3}).
 */
public final class MemoryThroughput {

    private MemoryThroughput() {
    }

    public static void main(String[] args) throws Exception {
        int messages = Integer.getInteger("messages", 1_000_000);
        int payloadSize = Integer.getInteger("payload", 100);
        int rounds = Integer.getInteger("rounds", 3);
        System.out.printf("mem:// publish->consume, %,d messages of %d bytes, JDK %s, %d cores%n",
                messages, payloadSize, Runtime.version(), Runtime.getRuntime().availableProcessors());
        int[][] settings = {{1, 0}, {4, 0}, {4, 1}};
        for (int[] s : settings) {
            int concurrency = s[0];
            Ordering ordering = s[1] == 1 ? Ordering.BY_KEY : Ordering.NONE;
            measure(messages / 4, payloadSize, concurrency, ordering); // warm-up
            double best = 0;
            double sum = 0;
            for (int r = 0; r < rounds; r++) {
                double rate = measure(messages, payloadSize, concurrency, ordering);
                best = Math.max(best, rate);
                sum += rate;
            }
            System.out.printf(Locale.ROOT, "concurrency=%d ordering=%-6s mean %,.0f msg/s, best %,.0f msg/s over %d rounds%n",
                    concurrency, ordering, sum / rounds, best, rounds);
        }
    }

    static double measure(int messages, int payloadSize, int concurrency, Ordering ordering) throws Exception {
        String name = "bench-" + System.nanoTime();
        try (Courier courier = Courier.connect(CourierConfig.builder().withoutEnvironment()
                .url("mem://" + name + "?retention=" + Math.max(messages, 1)).build())) {
            return run(courier, messages, payloadSize, concurrency, ordering);
        }
    }

    /** Publishes {@code messages} to one group subscription of {@code courier} and returns messages/s until all were handled. */
    static double run(Courier courier, int messages, int payloadSize, int concurrency, Ordering ordering) throws Exception {
        byte[] payload = new byte[payloadSize];
        Message[] prepared = new Message[messages];
        for (int i = 0; i < messages; i++) {
            prepared[i] = Message.builder("bench").key("k" + (i % 64)).payload(payload).build();
        }
        CountDownLatch done = new CountDownLatch(1);
        LongAdder handled = new LongAdder();
        Subscription sub = courier.subscribe(Subscribe.to("bench").group("g").concurrency(concurrency).ordering(ordering)
                .maxInFlight(1024), d -> {
            handled.increment();
            if (handled.sum() == messages) {
                done.countDown();
            }
        });
        Publisher publisher = courier.publisher();
        long start = System.nanoTime();
        for (Message m : prepared) {
            publisher.publish(m);
        }
        if (!done.await(5, TimeUnit.MINUTES)) {
            throw new IllegalStateException("only " + handled.sum() + " of " + messages + " handled");
        }
        long nanos = System.nanoTime() - start;
        sub.close();
        return messages / (nanos / 1e9);
    }
}
