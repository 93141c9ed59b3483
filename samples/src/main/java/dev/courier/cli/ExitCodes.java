package dev.courier.cli;

import dev.courier.BrokerUnavailableException;
import dev.courier.NoResponderException;
import dev.courier.PublishException;
import dev.courier.RequestFailedException;
import dev.courier.RequestTimeoutException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The exit codes of the {@code courier} command, one per kind of failure a script may want to
 * tell apart. Listed in every verb's {@code --help} and in {@code docs/cli.md}.
 */
public final class ExitCodes {

    /** The verb did what it was asked. */
    public static final int OK = 0;
    /** Bad configuration or input (unknown URL scheme, unreadable file, invalid setting) or another failure. */
    public static final int ERROR = 1;
    /** Unknown verb or option, missing or conflicting arguments (picocli's usage code). */
    public static final int USAGE = 2;
    /** The broker could not be reached or refused the connection (host down, wrong credentials). */
    public static final int BROKER_UNAVAILABLE = 3;
    /** A request got no reply in time, or consume -n saw fewer messages before its idle timeout. */
    public static final int TIMEOUT = 4;
    /** Nobody listens on the request's topic (brokers that can tell at once). */
    public static final int NO_RESPONDER = 5;
    /** The responder received the request and its handler failed. */
    public static final int REQUEST_FAILED = 6;
    /** The broker did not confirm a publish. */
    public static final int PUBLISH_FAILED = 7;
    /** Interrupted. */
    public static final int INTERRUPTED = 130;

    /** The rows of the exit-code list in {@code --help}, as picocli's {@code exitCodeList} wants them. */
    static final String[] HELP = {
            "0:ok",
            "1:bad configuration or input, or another failure",
            "2:usage: unknown verb or option, missing or conflicting arguments",
            "3:broker unavailable: cannot connect, or credentials rejected",
            "4:timeout: no reply in time (request), fewer than -n messages before --timeout (consume, tail)",
            "5:no responder on the request topic",
            "6:request failed: the responder's handler threw",
            "7:publish failed: the broker did not confirm",
            "130:interrupted"};

    private ExitCodes() {
    }

    /** The exit code for {@code failure} (unwrapped from completion wrappers). */
    public static int of(Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof CliFailure f) {
            return f.exitCode();
        }
        if (t instanceof BrokerUnavailableException) {
            return BROKER_UNAVAILABLE;
        }
        if (t instanceof RequestTimeoutException) {
            return TIMEOUT;
        }
        if (t instanceof NoResponderException) {
            return NO_RESPONDER;
        }
        if (t instanceof RequestFailedException) {
            return REQUEST_FAILED;
        }
        if (t instanceof PublishException) {
            return PUBLISH_FAILED;
        }
        if (t instanceof InterruptedException) {
            return INTERRUPTED;
        }
        return ERROR;
    }

    /** The failure behind {@link CompletionException} and {@link ExecutionException} wrappers. */
    static Throwable unwrap(Throwable t) {
        Throwable x = t;
        while ((x instanceof CompletionException || x instanceof ExecutionException) && x.getCause() != null) {
            x = x.getCause();
        }
        return x;
    }
}
