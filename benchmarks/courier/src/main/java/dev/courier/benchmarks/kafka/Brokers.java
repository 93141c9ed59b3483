package dev.courier.benchmarks.kafka;

import dev.courier.testkit.kafka.EmbeddedKafka;

import java.util.List;

/** The embedded broker the Kafka benchmarks start when no {@code bench.bootstrap} is given. */
final class Brokers {

    /**
     * The testkit's defaults are tuned for a fast start (C1 only, 384 MB, serial GC); under a
     * sustained 1 KiB-record load that broker becomes the bottleneck and lets produce requests
     * time out, so benchmarks give it the full JIT, a 1 GB heap and the parallel collector.
     */
    static final List<String> JVM_OPTIONS = List.of("-Xms512m", "-Xmx1g", "-XX:+UseParallelGC", "-XX:-UsePerfData",
            "-Djava.awt.headless=true");

    private Brokers() {
    }

    /** Also looks for segments past their retention every 5 s (5 min by default), see {@link ClientThroughput#keepSmall}. */
    static EmbeddedKafka start() {
        return EmbeddedKafka.builder().jvmOptions(JVM_OPTIONS).brokerProperty("log.retention.check.interval.ms", "5000").build().start();
    }
}
