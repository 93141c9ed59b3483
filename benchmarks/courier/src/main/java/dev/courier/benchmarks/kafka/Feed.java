package dev.courier.benchmarks.kafka;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The records of one scenario, in log order: for each record its partition and key. Written once
 * by the driver ({@code <topic>.feed}, one {@code partition<TAB>key} line per record), then used to
 * fill the broker topic and to feed the MockConsumer harness of every side.
 */
public final class Feed {

    final int[] partitions;
    final String[] keys;

    Feed(int[] partitions, String[] keys) {
        this.partitions = partitions;
        this.keys = keys;
    }

    int size() {
        return keys.length;
    }

    /** Every record has its own key; partition by key hash. */
    static Feed distinctKeys(int records, int partitionCount) {
        String[] keys = new String[records];
        for (int i = 0; i < records; i++) {
            keys[i] = "r" + i;
        }
        return byKeyHash(keys, partitionCount);
    }

    /** Keys drawn uniformly from {@code keyCount} keys with a fixed seed. */
    static Feed uniformKeys(int records, int keyCount, int partitionCount, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        String[] keys = new String[records];
        for (int i = 0; i < records; i++) {
            keys[i] = "k" + random.nextInt(keyCount);
        }
        return byKeyHash(keys, partitionCount);
    }

    /** Record i has key {@code i % keyCount}: every key the same number of times. */
    static Feed roundRobinKeys(int records, int keyCount, int partitionCount) {
        String[] keys = new String[records];
        for (int i = 0; i < records; i++) {
            keys[i] = "k" + (i % keyCount);
        }
        return byKeyHash(keys, partitionCount);
    }

    /** Keys drawn from a Zipf distribution with exponent {@code s} over {@code keyCount} keys, fixed seed. */
    static Feed zipfKeys(int records, int keyCount, double s, int partitionCount, long seed) {
        double[] cumulative = new double[keyCount];
        double sum = 0;
        for (int k = 0; k < keyCount; k++) {
            sum += 1.0 / Math.pow(k + 1, s);
            cumulative[k] = sum;
        }
        SplittableRandom random = new SplittableRandom(seed);
        String[] keys = new String[records];
        for (int i = 0; i < records; i++) {
            double u = random.nextDouble() * sum;
            int lo = 0;
            int hi = keyCount - 1;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (cumulative[mid] < u) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            keys[i] = "z" + lo;
        }
        return byKeyHash(keys, partitionCount);
    }

    /** Record i goes to partition {@code i % partitionCount}; key = partition (PARTITION mode ignores keys). */
    static Feed roundRobinPartitions(int records, int partitionCount) {
        int[] partitions = new int[records];
        String[] keys = new String[records];
        for (int i = 0; i < records; i++) {
            partitions[i] = i % partitionCount;
            keys[i] = "p" + partitions[i];
        }
        return new Feed(partitions, keys);
    }

    private static Feed byKeyHash(String[] keys, int partitionCount) {
        int[] partitions = new int[keys.length];
        for (int i = 0; i < keys.length; i++) {
            partitions[i] = Math.floorMod(keys[i].hashCode() * 0x9E3779B1, partitionCount);
        }
        return new Feed(partitions, keys);
    }

    /** The most records any one key has. */
    int maxPerKey() {
        Map<String, Integer> counts = new HashMap<>();
        int max = 0;
        for (String k : keys) {
            max = Math.max(max, counts.merge(k, 1, Integer::sum));
        }
        return max;
    }

    /** The most records any one partition has. */
    int maxPerPartition() {
        Map<Integer, Integer> counts = new HashMap<>();
        int max = 0;
        for (int p : partitions) {
            max = Math.max(max, counts.merge(p, 1, Integer::sum));
        }
        return max;
    }

    void write(Path file) {
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < keys.length; i++) {
                w.write(Integer.toString(partitions[i]));
                w.write('\t');
                w.write(keys[i]);
                w.write('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Feed read(Path file, int records) {
        int[] partitions = new int[records];
        String[] keys = new String[records];
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < records; i++) {
                String line = r.readLine();
                int tab = line.indexOf('\t');
                partitions[i] = Integer.parseInt(line, 0, tab, 10);
                keys[i] = line.substring(tab + 1);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Feed(partitions, keys);
    }
}
