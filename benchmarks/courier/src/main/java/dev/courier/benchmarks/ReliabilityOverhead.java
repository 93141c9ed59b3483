package dev.courier.benchmarks;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.Interceptor;
import dev.courier.Ordering;
import dev.courier.reliability.Idempotency;
import dev.courier.reliability.Reliability;
import dev.courier.reliability.RetryPolicy;
import dev.courier.reliability.idempotency.InMemoryIdempotencyStore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What the reliability policy costs on the in-memory broker, where nothing else hides it: the
 * publish-to-consume throughput of {@link MemoryThroughput} (one publisher thread, one group
 * subscription, handlers that do nothing and never fail) without a policy, with
 * {@link Reliability} doing retry only, and with retry plus idempotency on an
 * {@link InMemoryIdempotencyStore} (every message has its own id, so each one is claimed and
 * completed). The variants alternate within each round, so drift on a shared machine hits all of
 * them; it prints the median rate of each and its ratio to the run without a policy.
 *
 * <p>Run: {@code ./mvnw -q -o -pl benchmarks/courier -am compile exec:java
 * -Dcourier.sample=dev.courier.benchmarks.ReliabilityOverhead} (optional {@code -Dmessages=300000
 * -Drounds=5 -Dconcurrency=4}).
 */
public final class ReliabilityOverhead {

    private ReliabilityOverhead() {
    }

    public static void main(String[] args) throws Exception {
        int messages = Integer.getInteger("messages", 300_000);
        int rounds = Integer.getInteger("rounds", 5);
        int concurrency = Integer.getInteger("concurrency", 4);
        RetryPolicy retry = RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(5)).attempts(3);
        Map<String, Supplier<Interceptor>> variants = new LinkedHashMap<>();
        variants.put("no policy", () -> null);
        variants.put("retry", () -> Reliability.builder().retry(retry).build());
        variants.put("retry + idempotency (in-memory)", () -> Reliability.builder().retry(retry)
                .idempotency(Idempotency.with(new InMemoryIdempotencyStore())).build());
        System.out.printf("mem:// publish->consume with and without Reliability, %,d messages of 100 bytes, concurrency %d, "
                + "ordering NONE, %d rounds, JDK %s, %d cores%n", messages, concurrency, rounds, Runtime.version(),
                Runtime.getRuntime().availableProcessors());

        for (Supplier<Interceptor> v : variants.values()) {
            measure(messages / 4, concurrency, v.get()); // warm-up of each variant
        }
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        variants.keySet().forEach(k -> rates.put(k, new ArrayList<>()));
        for (int r = 0; r < rounds; r++) {
            for (Map.Entry<String, Supplier<Interceptor>> v : variants.entrySet()) {
                rates.get(v.getKey()).add(measure(messages, concurrency, v.getValue().get()));
            }
        }
        double base = median(rates.get("no policy"));
        System.out.println("| variant | median msg/s | vs no policy | all rounds (msg/s) |");
        System.out.println("| --- | ---: | ---: | --- |");
        for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
            double m = median(e.getValue());
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %.2f | %s |%n", e.getKey(), m, m / base,
                    e.getValue().stream().map(x -> String.format(Locale.ROOT, "%,.0f", x)).toList());
        }
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static double measure(int messages, int concurrency, Interceptor policy) throws Exception {
        String name = "bench-rel-" + System.nanoTime();
        Courier.Builder builder = Courier.builder().config(CourierConfig.builder().withoutEnvironment()
                .url("mem://" + name + "?retention=" + Math.max(messages, 1)).build());
        if (policy != null) {
            builder.interceptor(policy);
        }
        try (Courier courier = builder.connect()) {
            return MemoryThroughput.run(courier, messages, 100, concurrency, Ordering.NONE);
        } finally {
            if (policy instanceof AutoCloseable c) {
                c.close();
            }
        }
    }
}
