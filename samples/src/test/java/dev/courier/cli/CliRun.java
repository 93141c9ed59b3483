package dev.courier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Runs the CLI in-process with captured streams: {@code CliRun.with(stdin).run("publish", ...)}. */
final class CliRun {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final byte[] stdin;
    private final boolean terminal;
    private Map<String, String> env = Map.of();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private CourierCli cli;
    int exitCode = -1;

    private CliRun(byte[] stdin, boolean terminal) {
        this.stdin = stdin;
        this.terminal = terminal;
    }

    /** Standard input is an (empty) terminal. */
    static CliRun terminal() {
        return new CliRun(new byte[0], true);
    }

    /** Standard input is piped in. */
    static CliRun stdin(byte[] in) {
        return new CliRun(in, false);
    }

    static CliRun stdin(String in) {
        return stdin(in.getBytes(StandardCharsets.UTF_8));
    }

    CliRun env(Map<String, String> env) {
        this.env = env;
        return this;
    }

    /** Runs {@code args} and returns this, holding the exit code and output. */
    CliRun run(String... args) {
        cli = new CourierCli(new ByteArrayInputStream(stdin), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).environment(env).stdinIsTerminal(terminal);
        exitCode = cli.run(args);
        return this;
    }

    /** Runs {@code args} on another thread. */
    CompletableFuture<CliRun> start(String... args) {
        return CompletableFuture.supplyAsync(() -> run(args), r -> new Thread(r, "cli-run").start());
    }

    void stop() {
        if (cli != null) {
            cli.stop();
        }
    }

    String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    /** Standard output, one line each. */
    List<String> lines() {
        String o = out();
        return o.isEmpty() ? List.of() : Arrays.asList(o.split("\\R"));
    }

    /** Standard output parsed as JSON lines. */
    List<JsonNode> json() {
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : lines()) {
            try {
                nodes.add(JSON.readTree(line));
            } catch (IOException e) {
                throw new UncheckedIOException("not a JSON line: " + line, e);
            }
        }
        return nodes;
    }

    /** For assertion messages. */
    String describe() {
        return "exit " + exitCode + "\n--- stdout\n" + out() + "--- stderr\n" + err();
    }

    @Override
    public String toString() {
        return describe();
    }
}
