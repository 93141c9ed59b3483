package dev.courier.benchmarks.kafka;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One row of the parallel-consumer comparison: how many records, how long the handler sleeps, the
 * concurrency, the ordering mode and the topic that holds the records. Rows are written by the
 * driver to {@code scenarios.tsv} and read back by every benchmark JVM (the Confluent Parallel
 * Consumer module reads the same file with its own copy of the parser), so all sides run exactly
 * the same rows.
 *
 * @param name        short label printed in the table
 * @param records     how many records
 * @param handlerMs   how long the handler sleeps per record; 0 means no work at all
 * @param concurrency most handlers running at once
 * @param mode        UNORDERED, KEY or PARTITION
 * @param topic       the prepared topic (broker harness) and the feed file's name
 * @param partitions  partitions of the topic
 * @param idealMs     the lower bound on the elapsed time, from the feed (0 for zero-work rows)
 */
public record Scenario(String name, int records, int handlerMs, int concurrency, String mode, String topic, int partitions,
                       double idealMs) {

    static final String FILE = "scenarios.tsv";

    String line() {
        return String.join("\t", name, Integer.toString(records), Integer.toString(handlerMs), Integer.toString(concurrency),
                mode, topic, Integer.toString(partitions), String.format(Locale.ROOT, "%.1f", idealMs));
    }

    static Scenario parse(String line) {
        String[] f = line.split("\t");
        return new Scenario(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[4], f[5],
                Integer.parseInt(f[6]), Double.parseDouble(f[7]));
    }

    static void writeAll(Path dir, List<Scenario> scenarios) {
        List<String> lines = new ArrayList<>();
        scenarios.forEach(s -> lines.add(s.line()));
        try {
            Files.write(dir.resolve(FILE), lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Scenario> readAll(Path dir) {
        try {
            List<Scenario> out = new ArrayList<>();
            for (String line : Files.readAllLines(dir.resolve(FILE), StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    out.add(parse(line));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    boolean zeroWork() {
        return handlerMs == 0;
    }
}
