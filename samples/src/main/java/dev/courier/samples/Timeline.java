package dev.courier.samples;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A readable timeline for the samples: each line shows the milliseconds since the run started,
 * the service that acted and what it did. Lines are also kept, so a caller can inspect them.
 * Thread-safe: services print from their handler threads.
 */
public final class Timeline {

    private final PrintStream out;
    private final long start = System.nanoTime();
    private final List<String> lines = new ArrayList<>();

    public Timeline(PrintStream out) {
        this.out = out;
    }

    /** Prints one event of {@code service}, formatted like {@link String#format}. */
    public void event(String service, String format, Object... args) {
        String text = String.format(format, args);
        synchronized (this) {
            long ms = Duration.ofNanos(System.nanoTime() - start).toMillis();
            String line = String.format("%7d ms  %-13s %s", ms, service, text);
            lines.add(line);
            out.println(line);
        }
    }

    /** Prints a line without a time stamp (headers, summaries). */
    public synchronized void note(String format, Object... args) {
        String line = String.format(format, args);
        lines.add(line);
        out.println(line);
    }

    /** Every line printed so far. */
    public synchronized List<String> lines() {
        return List.copyOf(lines);
    }
}
