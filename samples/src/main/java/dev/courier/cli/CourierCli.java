package dev.courier.cli;

import dev.courier.Courier;
import dev.courier.CourierException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.Console;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code courier} command-line tool: publish, consume, tail, request, ping and dead-letter
 * verbs against any Courier URL (see {@code docs/cli.md}).
 *
 * <p>{@link #main(String[])} runs it as a process; {@link #run(String...)} runs one command line
 * in-process against the streams given to the constructor and returns the exit code (see
 * {@link ExitCodes}) instead of exiting. One instance runs one command line at a time.
 */
@Command(name = "courier", mixinStandardHelpOptions = true, versionProvider = CourierCli.Version.class,
        description = {"Publish, consume, request and inspect messages on any broker Courier supports.",
                "The broker is chosen by --url (default: courier.url / COURIER_URL, else mem://, which lives in one process only)."},
        subcommands = {PublishCommand.class, ConsumeCommand.class, TailCommand.class, RequestCommand.class, PingCommand.class,
                DlqCommand.class, CommandLine.HelpCommand.class},
        synopsisSubcommandLabel = "<verb>",
        footer = {"%nRun 'courier <verb> --help' for the options of a verb. Reference: docs/cli.md"})
public final class CourierCli implements Runnable {

    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;
    private Map<String, String> environment = System.getenv();
    private Boolean stdinIsTerminal;
    private final Set<Courier> open = ConcurrentHashMap.newKeySet();
    private volatile Runnable onStop = () -> { };

    @Spec
    CommandSpec spec;

    /** A CLI on the process's standard streams. */
    public CourierCli() {
        this(System.in, new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8),
                new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
    }

    /** A CLI reading standard input from {@code in} and writing to {@code out} and {@code err} (UTF-8). */
    public CourierCli(InputStream in, PrintStream out, PrintStream err) {
        this.in = Objects.requireNonNull(in, "in");
        this.out = Objects.requireNonNull(out, "out");
        this.err = Objects.requireNonNull(err, "err");
    }

    /** Reads {@code COURIER_*} variables from {@code env} instead of the process environment. */
    public CourierCli environment(Map<String, String> env) {
        this.environment = Map.copyOf(env);
        return this;
    }

    /** Whether standard input is an interactive terminal (then publish without a payload is a usage error). */
    public CourierCli stdinIsTerminal(boolean terminal) {
        this.stdinIsTerminal = terminal;
        return this;
    }

    /** Runs as the {@code courier} process: exits with the command's exit code. */
    public static void main(String[] args) {
        CourierCli cli = new CourierCli();
        // the CLI reports errors itself, in one line; client logs only with --verbose (set before anything logs)
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", cli.verboseIn(args) ? "info" : "off");
        }
        Thread hook = new Thread(cli::stop, "courier-cli-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        int code = cli.run(args);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // Ctrl-C: the hook is closing the Courier, the JVM exits when it is done
        }
        System.exit(code);
    }

    /** Whether {@code args} ask for --verbose, as the command line parses them (so also {@code -qv}); false if they do not parse. */
    boolean verboseIn(String... args) {
        try {
            return verbose(new CommandLine(this).parseArgs(args));
        } catch (ParameterException e) {
            return false;
        }
    }

    /** Whether the command or one of its parents was given {@code -v}/{@code --verbose}; a payload that reads "-v" is not. */
    private static boolean verbose(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /** Runs one command line and returns its exit code (see {@link ExitCodes}); never exits the JVM. */
    public int run(String... args) {
        CommandLine cl = new CommandLine(this);
        documentExitCodes(cl);
        cl.setOut(new PrintWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), true));
        cl.setErr(new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true));
        cl.setParameterExceptionHandler((ex, ignored) -> {
            // one line saying what is wrong, a suggestion if picocli has one, the synopsis, where to read more
            CommandLine c = ex.getCommandLine();
            PrintWriter w = c.getErr();
            String name = c.getCommandSpec().qualifiedName(" ");
            w.println(name + ": " + describe(ex));
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, w);
            w.print(c.getHelp().fullSynopsis());
            w.println("Run '" + name + " --help' for the options.");
            w.flush();
            return ExitCodes.USAGE;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            Throwable t = ExitCodes.unwrap(ex);
            if (t instanceof ParameterException pe) {
                throw pe;
            }
            err.println(cmd.getCommandSpec().qualifiedName(" ") + ": " + describe(t));
            if (verbose(parseResult)) {
                t.printStackTrace(err);
            }
            return ExitCodes.of(t);
        });
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
            open.forEach(Courier::close);
            open.clear();
        }
    }

    private static void documentExitCodes(CommandLine cl) {
        Map<String, String> codes = new java.util.LinkedHashMap<>();
        for (String row : ExitCodes.HELP) {
            int colon = row.indexOf(':');
            codes.put(row.substring(0, colon), row.substring(colon + 1));
        }
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        cl.getSubcommands().values().forEach(CourierCli::documentExitCodes);
    }

    /** Without a verb: usage. */
    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing verb: publish, consume, tail, request, ping or dlq");
    }

    /** Stops a running consume or tail and closes its Courier: what Ctrl-C does. Safe from any thread. */
    public void stop() {
        onStop.run();
        open.forEach(Courier::close);
    }

    void onStop(Runnable action) {
        this.onStop = Objects.requireNonNull(action, "action");
    }

    void opened(Courier courier) {
        open.add(courier);
    }

    InputStream in() {
        return in;
    }

    PrintStream out() {
        return out;
    }

    PrintStream err() {
        return err;
    }

    Map<String, String> environment() {
        return environment;
    }

    boolean stdinIsTerminal() {
        if (stdinIsTerminal != null) {
            return stdinIsTerminal;
        }
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            // JDK 22+: System.console() may exist although input is redirected
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException olderJdk) {
            return true;
        }
    }

    /** One line: the typed error's message, or the class name when there is none. */
    static String describe(Throwable t) {
        String msg = t.getMessage();
        String text = t instanceof CourierException || t instanceof CliFailure || t instanceof ParameterException
                ? (msg != null ? msg : t.getClass().getSimpleName())
                : t.getClass().getSimpleName() + (msg != null ? ": " + msg : "");
        return text.replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = CourierCli.class.getPackage().getImplementationVersion();
            return new String[] {"courier " + (v != null ? v : "(development build)")};
        }
    }
}
