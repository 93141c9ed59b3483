package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.ConfigurationException;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BrokerUrl;
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
    public Binding open(BindingContext context) {
        BrokerUrl url = context.url();
        NatsSettings settings = NatsSettings.from(context.config(), url);
        if (url.hosts().isEmpty()) {
            throw new ConfigurationException("'" + url + "' names no server; use nats://host:4222[,host:port...]");
        }
        LoggingConnectionListener events = new LoggingConnectionListener(url);
        Options options = options(url, settings, events);
        Connection connection;
        try {
            // Nats.connect tries each server once within the connection timeout and does not retry
            // the initial connect, so a wrong URL fails fast; reconnects after that are jnats' job
            connection = Nats.connect(options);
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

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }

    static Options options(BrokerUrl url, NatsSettings s, ConnectionListener events) {
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
                .errorListener(new LoggingErrorListener())
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

    /** jnats' errors into SLF4J. Messages from jnats never carry credentials. */
    private static final class LoggingErrorListener implements ErrorListener {
        @Override
        public void errorOccurred(Connection conn, String error) {
            log.warn("NATS server reported: {}", error);
        }

        @Override
        public void exceptionOccurred(Connection conn, Exception exp) {
            log.debug("NATS connection exception: {}", exp.toString());
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
