package dev.courier.rabbitmq;

import com.rabbitmq.client.Address;
import com.rabbitmq.client.AddressResolver;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ListAddressResolver;
import com.rabbitmq.client.PossibleAuthenticationFailureException;
import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BrokerUrl;
import dev.courier.spi.ConfigKeys;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The RabbitMQ binding: {@code amqp://user:password@host:port/vhost} and {@code amqps://...}
 * (TLS). Several hosts ({@code amqp://h1:5672,h2:5672/}) are tried in order. Configuration keys
 * are in {@link RabbitConfig}; anything else amqp-client offers is reachable with
 * {@link #configure(Consumer)}.
 *
 * <p>The connection recovers by itself (amqp-client's automatic and topology recovery): queues,
 * bindings and consumers come back, publishes that were waiting for a confirm when the connection
 * dropped fail with a retriable {@link dev.courier.PublishException}.
 */
public final class RabbitBindingProvider implements BindingProvider {

    /** Default port of {@code amqp://}. */
    public static final int DEFAULT_PORT = 5672;
    /** Default port of {@code amqps://}. */
    public static final int DEFAULT_TLS_PORT = 5671;

    private static final List<Consumer<ConnectionFactory>> CUSTOMIZERS = new CopyOnWriteArrayList<>();

    /**
     * Registers a hook that can change the {@link ConnectionFactory} of every connection this
     * binding opens from now on, after Courier applied the URL and configuration: the escape hatch
     * for any amqp-client setting Courier does not expose (SASL mechanism, NIO, metrics, executors,
     * credentials providers...). Returns a handle whose {@code close()} removes the hook.
     */
    public static AutoCloseable configure(Consumer<ConnectionFactory> customizer) {
        Objects.requireNonNull(customizer, "customizer");
        CUSTOMIZERS.add(customizer);
        return () -> CUSTOMIZERS.remove(customizer);
    }

    @Override
    public String name() {
        return "rabbitmq";
    }

    @Override
    public Set<String> schemes() {
        return Set.of("amqp", "amqps");
    }

    @Override
    public List<Capabilities> declaredCapabilities() {
        return List.of(RabbitBinding.CAPABILITIES);
    }

    @Override
    public ConfigKeys configKeys() {
        return RabbitConfig.KEYS;
    }

    @Override
    public Binding open(BindingContext context) {
        BrokerUrl url = context.url();
        RabbitConfig config = new RabbitConfig(context.config());
        ConnectionFactory factory = connectionFactory(url, config);
        List<Address> addresses = addresses(url);
        Connection connection;
        try {
            connection = factory.newConnection(addresses, config.connectionName());
        } catch (PossibleAuthenticationFailureException e) {
            throw new BrokerUnavailableException("RabbitMQ at " + url + " refused the credentials of user '"
                    + (url.user() == null ? "guest" : url.user()) + "' (or their access to vhost '" + vhost(url)
                    + "'); check the user name and password in courier.url", e);
        } catch (IOException | TimeoutException e) {
            throw new BrokerUnavailableException("cannot connect to RabbitMQ at " + url + " within "
                    + context.config().connectTimeout().toMillis() + " ms: " + describe(e)
                    + "; check that the broker runs and the host, port and vhost are right", e);
        }
        return new RabbitBinding(context, config, connection);
    }

    static String vhost(BrokerUrl url) {
        return url.path().isEmpty() ? "/" : url.path();
    }

    /**
     * The client tries several addresses in a random order of its own (its resolver shuffles them on
     * every connect and recovery); the URL promises the order given, so the first host is the
     * preferred one and later ones are fallbacks.
     */
    static AddressResolver inOrder(List<Address> addresses) {
        return new ListAddressResolver(addresses) {
            @Override
            public List<Address> maybeShuffle(List<Address> input) {
                return input;
            }
        };
    }

    private static List<Address> addresses(BrokerUrl url) {
        int defaultPort = url.scheme().equals("amqps") ? DEFAULT_TLS_PORT : DEFAULT_PORT;
        List<Address> out = new ArrayList<>();
        for (BrokerUrl.HostPort hp : url.hosts()) {
            out.add(new Address(hp.host(), hp.portOr(defaultPort)));
        }
        if (out.isEmpty()) {
            out.add(new Address("localhost", defaultPort));
        }
        return out;
    }

    static ConnectionFactory connectionFactory(BrokerUrl url, RabbitConfig config) {
        CourierConfig courier = config.courierConfig();
        ConnectionFactory f = new ConnectionFactory() {
            // several hosts are tried in the order given; everything else (executors a customizer set, one host) as the client does it
            @Override
            protected AddressResolver createAddressResolver(List<Address> addresses) {
                return addresses.size() > 1 ? inOrder(addresses) : super.createAddressResolver(addresses);
            }
        };
        f.setUsername(url.user() != null ? url.user() : ConnectionFactory.DEFAULT_USER);
        f.setPassword(url.password() != null ? url.password() : ConnectionFactory.DEFAULT_PASS);
        f.setVirtualHost(vhost(url));
        int connectMs = millis(courier.connectTimeout());
        f.setConnectionTimeout(connectMs);
        f.setHandshakeTimeout(connectMs);
        f.setRequestedHeartbeat(heartbeatSeconds(config.heartbeat()));
        f.setAutomaticRecoveryEnabled(true);
        f.setTopologyRecoveryEnabled(true);
        f.setNetworkRecoveryInterval(config.recoveryInterval().toMillis());
        if (url.scheme().equals("amqps")) {
            f.useSslProtocol(sslContext(config));
            if (courier.booleanValue(RabbitConfig.TLS_VERIFY_HOSTNAME, true)) {
                f.enableHostnameVerification();
            }
        }
        for (Consumer<ConnectionFactory> c : CUSTOMIZERS) {
            c.accept(f);
        }
        return f;
    }

    /**
     * AMQP's heartbeat in whole seconds (an unsigned short), rounded up: {@code 500ms} truncated to
     * 0 would take the broker's interval (RabbitMQ's is 60 s) instead of the short one asked for.
     */
    static int heartbeatSeconds(Duration d) {
        long seconds = d.getSeconds() + (d.getNano() > 0 ? 1 : 0);
        return (int) Math.min(65_535, Math.max(0, seconds));
    }

    private static int millis(Duration d) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toMillis()));
    }

    static SSLContext sslContext(RabbitConfig config) {
        String protocol = orDefault(config.get(RabbitConfig.TLS_PROTOCOL), "TLSv1.3");
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            String truststore = config.get(RabbitConfig.TLS_TRUSTSTORE);
            tmf.init(truststore == null || truststore.isBlank() ? null
                    : load(RabbitConfig.TLS_TRUSTSTORE, truststore, config.get(RabbitConfig.TLS_TRUSTSTORE_TYPE),
                    config.get(RabbitConfig.TLS_TRUSTSTORE_PASSWORD)));
            KeyManagerFactory kmf = null;
            String keystore = config.get(RabbitConfig.TLS_KEYSTORE);
            if (keystore != null && !keystore.isBlank()) {
                String password = config.get(RabbitConfig.TLS_KEYSTORE_PASSWORD);
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(load(RabbitConfig.TLS_KEYSTORE, keystore, config.get(RabbitConfig.TLS_KEYSTORE_TYPE), password),
                        password == null ? new char[0] : password.toCharArray());
            }
            SSLContext ctx = SSLContext.getInstance(protocol);
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new ConfigurationException("cannot set up TLS (" + RabbitConfig.TLS_PROTOCOL + "=" + protocol + "): " + e.getMessage()
                    + "; check the trust store, key store and their passwords", e);
        }
    }

    private static KeyStore load(String key, String path, String type, String password) throws GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance(orDefault(type, "PKCS12"));
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            ks.load(in, password == null ? null : password.toCharArray());
            return ks;
        } catch (IOException e) {
            // the message of a wrong password is "keystore password was incorrect": no secret in it
            throw new ConfigurationException(key + "=" + path + " cannot be read: " + e.getMessage(), e);
        }
    }

    private static String orDefault(String v, String d) {
        return v == null || v.isBlank() ? d : v.trim();
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = e; c != null && sb.length() < 300; c = c.getCause()) {
            if (c.getMessage() != null) {
                sb.append(sb.length() > 0 ? ": " : "").append(c.getMessage());
            } else if (sb.length() == 0) {
                sb.append(c.getClass().getSimpleName());
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString();
    }
}
