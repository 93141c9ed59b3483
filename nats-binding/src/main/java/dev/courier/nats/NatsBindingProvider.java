package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.ConfigurationException;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.ConfigKeys;
import dev.courier.spi.BrokerUrl;
import io.nats.client.AuthenticationException;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The NATS binding: {@code nats://host:port[,host:port...]} and {@code tls://...}, on JetStream
 * (the default: persistent, at-least-once) or core NATS (at-most-once), chosen by
 * {@code courier.nats.mode} and per topic by {@code courier.nats.core-topics}. Keys and defaults:
 * {@link NatsSettings} and {@code docs/bindings/nats.md}.
 */
public final class NatsBindingProvider implements BindingProvider {

    private static final Logger log = LoggerFactory.getLogger(NatsBindingProvider.class);

    @Override
    public String name() {
        return "nats";
    }

    @Override
    public Set<String> schemes() {
        return Set.of("nats", "tls");
    }

    @Override
    public List<Capabilities> declaredCapabilities() {
        return List.of(NatsBinding.JETSTREAM, NatsBinding.CORE);
    }

    @Override
    public ConfigKeys configKeys() {
        return NatsSettings.CONFIG_KEYS;
    }

    @Override
    public Binding open(BindingContext context) {
        BrokerUrl url = context.url();
        NatsSettings settings = NatsSettings.from(context.config(), url);
        if (url.hosts().isEmpty()) {
            throw new ConfigurationException("'" + url + "' names no server; use nats://host:4222[,host:port...]");
        }
        LoggingConnectionListener events = new LoggingConnectionListener(url);
        LoggingErrorListener errors = new LoggingErrorListener();
        Options options = options(url, settings, events, errors);
        Connection connection;
        try {
            // Nats.connect tries each server once within the connection timeout and does not retry
            // the initial connect, so a wrong URL fails fast; reconnects after that are jnats' job
            connection = url.hosts().size() == 1 ? connectFailingOnAuthError(options, errors) : Nats.connect(options);
        } catch (AuthenticationException e) {
            throw new BrokerUnavailableException("the NATS server at " + url + " refused the credentials (" + e.getMessage()
                    + "); check the user and password in the URL or " + NatsSettings.USER + "/" + NatsSettings.PASSWORD + ", "
                    + NatsSettings.TOKEN + " or " + NatsSettings.CREDENTIALS_FILE, e);
        } catch (IOException e) {
            throw new BrokerUnavailableException("cannot connect to " + url + " within " + settings.connectTimeout.toMillis()
                    + " ms: " + describe(e) + ". Check the host and port, that nats-server is running"
                    + (settings.coreMode ? "" : " with JetStream (-js)") + ", and the credentials", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerUnavailableException("interrupted while connecting to " + url, e);
        } catch (RuntimeException e) {
            throw new BrokerUnavailableException("cannot connect to " + url + ": " + describe(e), e);
        }
        try {
            NatsBinding binding = new NatsBinding(connection, settings, context);
            events.onReconnect = binding::reconnected;
            errors.onConsumerTrouble = binding::consumerTrouble;
            return binding;
        } catch (RuntimeException e) {
            try {
                connection.close();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            throw e;
        }
    }

    /**
     * {@code Nats.connect}, but failing as soon as the server rejects the credentials. The server
     * answers a wrong password with {@code -ERR 'Authorization Violation'} at once and closes the
     * socket, yet jnats goes on waiting for the PONG to its CONNECT for the whole connection
     * timeout. So the connect runs on a thread of its own while this one waits for it or for the
     * error jnats reports to the listener. Only with one server in the URL: with several, jnats
     * tries the next one, which may accept the credentials. The abandoned connect ends by itself
     * after the timeout; should it succeed after all, the connection is closed.
     */
    private static Connection connectFailingOnAuthError(Options options, LoggingErrorListener errors)
            throws IOException, InterruptedException {
        CompletableFuture<Connection> connecting = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                connecting.complete(Nats.connect(options));
            } catch (InterruptedException e) {
                connecting.completeExceptionally(e);
            } catch (IOException | RuntimeException e) {
                connecting.completeExceptionally(e);
            }
        }, "courier-nats-connect");
        t.setDaemon(true);
        errors.authError = new CompletableFuture<>();
        t.start();
        try {
            CompletableFuture.anyOf(connecting, errors.authError).get();
        } catch (ExecutionException e) {
            // the connect failed: reported below
        } catch (InterruptedException e) {
            connecting.thenAccept(NatsBindingProvider::closeQuietly);
            throw e;
        } finally {
            errors.authError.complete(null); // disarmed: later errors (on reconnect) are only logged
        }
        if (!connecting.isDone()) {
            connecting.thenAccept(NatsBindingProvider::closeQuietly);
            String error = errors.firstAuthError;
            throw new AuthenticationException("the server refused the credentials: " + error);
        }
        try {
            return connecting.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof InterruptedException ie) {
                throw ie;
            }
            throw (RuntimeException) cause;
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }

    static Options options(BrokerUrl url, NatsSettings s, ConnectionListener events, ErrorListener errors) {
        Properties nativeProps = new Properties();
        s.nativeOptions.forEach(nativeProps::setProperty);
        Options.Builder b = nativeProps.isEmpty() ? new Options.Builder() : new Options.Builder(nativeProps);
        String scheme = s.tls ? "tls" : "nats";
        String[] servers = url.hostList(NatsSettings.DEFAULT_PORT).split(",");
        for (int i = 0; i < servers.length; i++) {
            servers[i] = scheme + "://" + servers[i]; // credentials never go into server URLs, which jnats may log
        }
        b.servers(servers)
                .connectionName(s.connectionName)
                .connectionTimeout(s.connectTimeout)
                .maxReconnects(s.maxReconnects)
                .reconnectWait(s.reconnectWait)
                .reconnectBufferSize(s.reconnectBuffer)
                .reportNoResponders()
                .useTimeoutException()
                .errorListener(errors)
                .connectionListener(events);
        if (s.user != null && s.password != null) {
            b.userInfo(s.user.toCharArray(), s.password.toCharArray());
        }
        if (s.token != null) {
            b.token(s.token.toCharArray());
        }
        if (s.credentialsFile != null) {
            b.credentialPath(s.credentialsFile);
        }
        if (s.tls) {
            if (s.truststore != null) {
                b.truststorePath(s.truststore);
                if (s.truststorePassword != null) {
                    b.truststorePassword(s.truststorePassword.toCharArray());
                }
            }
            if (s.keystore != null) {
                b.keystorePath(s.keystore);
                if (s.keystorePassword != null) {
                    b.keystorePassword(s.keystorePassword.toCharArray());
                }
            }
            if (s.truststore == null && s.keystore == null) {
                try {
                    b.secure(); // the JVM's default trust store
                } catch (NoSuchAlgorithmException e) {
                    throw new ConfigurationException("TLS is not available in this JVM: " + e.getMessage(), e);
                }
            }
        }
        try {
            return b.build();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new ConfigurationException("invalid NATS options for " + url + ": " + e.getMessage(), e);
        }
    }

    /**
     * jnats' errors into SLF4J. Messages from jnats never carry credentials. While the first
     * connect waits on {@link #authError}, a rejection of the credentials completes it.
     */
    private static final class LoggingErrorListener implements ErrorListener {
        volatile CompletableFuture<Void> authError;
        volatile String firstAuthError;

        @Override
        public void errorOccurred(Connection conn, String error) {
            log.warn("NATS server reported: {}", error);
            CompletableFuture<Void> waiting = authError;
            if (waiting != null && !waiting.isDone() && isAuthError(error)) {
                firstAuthError = error;
                waiting.complete(null);
            }
        }

        /** The server's answers to refused credentials, as jnats recognises them. */
        private static boolean isAuthError(String error) {
            String e = error == null ? "" : error.toLowerCase(java.util.Locale.ROOT);
            return e.contains("authorization violation") || e.contains("user authentication")
                    || e.contains("account authentication expired");
        }

        @Override
        public void exceptionOccurred(Connection conn, Exception exp) {
            log.debug("NATS connection exception: {}", exp.toString());
        }

        /** What to do when the JetStream pull on a dispatcher reports its consumer deleted or gone. */
        volatile java.util.function.Consumer<io.nats.client.Dispatcher> onConsumerTrouble = d -> { };

        @Override
        public void pullStatusError(Connection conn, io.nats.client.JetStreamSubscription sub, io.nats.client.support.Status status) {
            log.warn("JetStream pull failed: {} {}", status.getCode(), status.getMessage());
            String text = status.getMessage() == null ? "" : status.getMessage().toLowerCase(java.util.Locale.ROOT);
            // "Consumer Deleted": its stream went too, or an operator removed it; 503 "No Responders": a pull asked for a
            // consumer the server no longer has (deleted between two pulls)
            if (text.contains("deleted") || status.getCode() == 503) {
                onConsumerTrouble.accept(sub.getDispatcher());
            }
        }

        @Override
        public void slowConsumerDetected(Connection conn, io.nats.client.Consumer consumer) {
            log.warn("NATS slow consumer: a core subscription fell behind and the client dropped messages (at-most-once)");
        }
    }

    /** Connection state changes, logged with the masked URL. */
    private static final class LoggingConnectionListener implements ConnectionListener {
        private final BrokerUrl url;
        volatile Runnable onReconnect = () -> { };

        LoggingConnectionListener(BrokerUrl url) {
            this.url = url;
        }

        @Override
        public void connectionEvent(Connection conn, Events type) {
            switch (type) {
                case DISCONNECTED -> log.warn("disconnected from {}; jnats reconnects and buffers publishes meanwhile", url);
                case RECONNECTED -> {
                    log.info("reconnected to {}", url);
                    onReconnect.run();
                }
                case CLOSED -> log.debug("connection to {} closed", url);
                default -> log.debug("NATS connection event {} on {}", type, url);
            }
        }
    }
}
