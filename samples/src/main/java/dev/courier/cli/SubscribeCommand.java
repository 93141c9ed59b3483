package dev.courier.cli;

import dev.courier.Capabilities;
import dev.courier.Capability;
import dev.courier.Courier;
import dev.courier.StartPosition;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What consume and tail share: subscribe, print each message as a JSON line, ack it once printed,
 * stop after {@code -n} messages, after {@code --timeout} without one, or on Ctrl-C. A message that
 * arrives after the count was reached is left unsettled, and closing the subscription gives it back
 * to the broker as it is: a nack would be a failed attempt, which RabbitMQ redelivers at the back of
 * the queue and JetStream after the ack wait, so a group's next run would not resume in order.
 */
abstract class SubscribeCommand implements Callable<Integer> {

    @ParentCommand
    CourierCli cli;

    @Spec
    CommandSpec spec;

    @Mixin
    ConnectOptions connection;

    @Parameters(index = "0", paramLabel = "<topic>", description = "Topic to read.")
    String topic;

    @Option(names = {"-g", "--group"}, paramLabel = "<group>",
            description = "Consume as a member of this group: messages are shared with its other members and acked once printed."
                    + " Without it the subscription is broadcast: it sees every message and takes none from anybody.")
    String group;

    @Option(names = "--from", paramLabel = "<earliest|latest|time>", converter = Converters.StartConverter.class,
            description = "Where to start: earliest, latest, or an ISO-8601 time (2026-11-23T10:00:00Z). earliest and a time need"
                    + " a broker that can replay (Kafka, NATS JetStream, mem). A group that consumed before resumes where it stopped.")
    StartPosition from;

    @Option(names = {"-n", "--count"}, paramLabel = "<N>", description = "Exit after N messages.")
    Integer count;

    @Option(names = "--timeout", paramLabel = "<duration>", converter = Converters.DurationConverter.class,
            description = "Exit after this long without a message (e.g. 10s); with -n, ending early is exit code 4.")
    Duration idleTimeout;

    @Option(names = {"-q", "--quiet"}, description = "Do not print the 'consuming ...' line on standard error.")
    boolean quiet;

    /** The start position when --from is not given; {@code group} is null for a broadcast subscription. A group resumes where it stopped whatever this says. */
    abstract StartPosition defaultStart(Capabilities capabilities, String group);

    @Override
    public Integer call() throws InterruptedException {
        if (count != null && count < 1) {
            throw new ParameterException(spec.commandLine(), "-n/--count must be 1 or more, was " + count);
        }
        if (idleTimeout != null && idleTimeout.isZero()) {
            throw new ParameterException(spec.commandLine(), "--timeout must be more than zero");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        cli.onStop(stopped::countDown);
        try (Courier courier = connection.connect(cli)) {
            StartPosition start = from != null ? from : defaultStart(courier.capabilities(), group);
            if (start.kind() == StartPosition.Kind.EARLIEST || start.kind() == StartPosition.Kind.TIME) {
                // some bindings would silently start at the latest message instead
                courier.capabilities().require(Capability.REPLAY, "--from " + start);
            }
            Subscribe s = Subscribe.to(topic).startFrom(start);
            if (group != null) {
                s = s.group(group);
            }
            if (count != null) {
                // take no more from the broker than we will print
                s = s.maxInFlight(Math.min(count, Subscribe.DEFAULT_MAX_IN_FLIGHT));
            }
            Printer printer = new Printer(stopped);
            Subscription subscription = courier.subscribeAsync(s, d -> {
                printer.handle(d);
                return null;
            });
            printer.subscription.set(subscription);
            if (!quiet) {
                String from = start.equals(StartPosition.defaults()) ? "where the group left off" : "from " + start;
                cli.err().println("consuming '" + topic + "' (" + (group != null ? "group " + group : "broadcast") + ", " + from
                        + ") on " + courier.capabilities().displayName() + " at " + courier.url()
                        + (count != null ? ", " + count + " message(s)" : "")
                        + (idleTimeout != null ? ", until idle for " + Converters.format(idleTimeout) : "")
                        + "; Ctrl-C to stop");
            }
            boolean idle = printer.await(idleTimeout);
            printer.stop();
            // every printed message is acked by now (a close without drain applies an ack whose handler is just returning)
            // and the others are not ours: nothing to wait for
            subscription.close(Duration.ZERO);
            if (idle && count != null && printer.printed < count) {
                throw new CliFailure(ExitCodes.TIMEOUT, "received " + printer.printed + " of " + count + " message(s) from '" + topic
                        + "', then none for " + Converters.format(idleTimeout));
            }
        } finally {
            cli.onStop(() -> { });
        }
        return ExitCodes.OK;
    }

    /** The StartPosition for consume: earliest where the binding can replay, else latest. */
    static StartPosition replayIfPossible(Capabilities caps) {
        return caps.supports(Capability.REPLAY) ? StartPosition.earliest() : StartPosition.latest();
    }

    /** Prints and acks one delivery at a time; counts and tracks when the last one came. */
    private final class Printer {
        final AtomicReference<Subscription> subscription = new AtomicReference<>();
        private final CountDownLatch stopped;
        volatile int printed;
        private long lastActivity = System.nanoTime();

        Printer(CountDownLatch stopped) {
            this.stopped = stopped;
        }

        synchronized void handle(dev.courier.Delivery d) {
            if ((count != null && printed >= count) || stopped.getCount() == 0) {
                return;  // not ours to take: left unsettled, the subscription's close gives it back as it is
            }
            cli.out().println(JsonLines.delivery(d));
            cli.out().flush();
            printed++;
            lastActivity = System.nanoTime();
            if (count != null && printed >= count) {
                // paused before the ack: the ack frees a slot for a message that would only be given back
                Subscription sub = subscription.get();
                if (sub != null) {
                    sub.pause();
                }
                stopped.countDown();
            }
            d.ack();
        }

        /** From now on no message is printed or acked: what the handler takes is left for close() to give back. */
        synchronized void stop() {
            stopped.countDown();
        }

        /** Waits until stopped (count reached, Ctrl-C); returns true if it ended for being idle. */
        boolean await(Duration idle) throws InterruptedException {
            while (true) {
                if (stopped.await(200, TimeUnit.MILLISECONDS)) {
                    return false;
                }
                if (idle != null) {
                    long since;
                    synchronized (this) {
                        since = System.nanoTime() - lastActivity;
                    }
                    if (since >= idle.toNanos()) {
                        synchronized (this) {
                            stopped.countDown();  // later deliveries go back to the broker
                        }
                        Subscription sub = subscription.get();
                        if (sub != null) {
                            sub.pause();
                        }
                        return true;
                    }
                }
            }
        }
    }
}
