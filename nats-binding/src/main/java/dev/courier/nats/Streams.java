package dev.courier.nats;

import dev.courier.BrokerUnavailableException;
import dev.courier.ConfigurationException;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * Finds or creates the JetStream stream that stores a topic. A stream that already captures the
 * topic's subject (one an operator configured over {@code orders.>}, say) is used as it is;
 * otherwise, when provisioning is on, Courier creates {@code <prefix><topic with '.' as '_'>} over
 * the topic's subject. Lookups are cached per topic and run off the caller's thread.
 */
final class Streams {

    private static final Logger log = LoggerFactory.getLogger(Streams.class);

    /** Where a topic is stored: the stream, and whether the stream holds this topic alone. */
    record StreamRef(String name, boolean dedicated) {
    }

    private final JetStreamManagement jsm;
    private final NatsSettings settings;
    private final Executor executor;
    private final Map<String, CompletableFuture<StreamRef>> byTopic = new ConcurrentHashMap<>();

    Streams(JetStreamManagement jsm, NatsSettings settings, Executor executor) {
        this.jsm = jsm;
        this.settings = settings;
        this.executor = executor;
    }

    /** The stream of {@code topic}, looked up or created once, asynchronously. */
    CompletableFuture<StreamRef> of(String topic) {
        CompletableFuture<StreamRef> f = byTopic.get(topic);
        if (f != null && !f.isCompletedExceptionally()) {
            return f;
        }
        CompletableFuture<StreamRef> created = new CompletableFuture<>();
        CompletableFuture<StreamRef> prior = f == null ? byTopic.putIfAbsent(topic, created)
                : (byTopic.replace(topic, f, created) ? null : byTopic.get(topic));
        if (prior != null) {
            return prior;
        }
        executor.execute(() -> {
            try {
                created.complete(resolve(topic));
            } catch (RuntimeException e) {
                created.completeExceptionally(e);
            }
        });
        return created;
    }

    /** The stream of {@code topic}, waiting for the lookup; for subscribe(), which may block. */
    StreamRef require(String topic) {
        try {
            return of(topic).join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** The stream name Courier gives {@code topic}'s own stream. */
    String nameFor(String topic) {
        return settings.streamPrefix + topic.replace('.', '_');
    }

    /** Subjects a dedicated stream of {@code topic} captures. */
    List<String> subjectsFor(String topic) {
        return settings.keyAsSubject(topic) ? List.of(topic, topic + ".>") : List.of(topic);
    }

    private StreamRef resolve(String topic) {
        try {
            List<String> existing = jsm.getStreamNames(topic);
            if (!existing.isEmpty()) {
                String name = existing.get(0);
                return new StreamRef(name, name.equals(nameFor(topic)) || name.startsWith(nameFor(topic) + "_"));
            }
            if (!settings.provision) {
                throw new ConfigurationException("no JetStream stream captures the subject '" + topic + "' and "
                        + NatsSettings.STREAM_PROVISION + " is false; create a stream over it (nats stream add) or enable provisioning");
            }
            String name = nameFor(topic);
            try {
                jsm.addStream(config(name, topic));
            } catch (JetStreamApiException e) {
                if (e.getApiErrorCode() != 10058) { // 10058: stream name already in use with a different configuration
                    throw e;
                }
                // another topic mapped onto the same name (e.g. 'a.b' and 'a_b'): tell them apart with a hash
                name = name + "_" + Integer.toHexString(topic.hashCode());
                jsm.addStream(config(name, topic));
            }
            log.debug("created JetStream stream {} for topic '{}'", name, topic);
            return new StreamRef(name, true);
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == 10065) { // subjects overlap with an existing stream
                throw new ConfigurationException("cannot create a stream for topic '" + topic + "': its subject overlaps "
                        + "an existing stream (" + e.getErrorDescription() + "). Topics listed in " + NatsSettings.KEY_SUBJECT_TOPICS
                        + " capture '<topic>.>', so their dead-letter topics must lie outside it; see docs/bindings/nats.md", e);
            }
            throw new ConfigurationException("JetStream refused the stream for topic '" + topic + "': " + e.getErrorDescription()
                    + " (code " + e.getApiErrorCode() + ")", e);
        } catch (IOException e) {
            throw new BrokerUnavailableException("JetStream did not answer while looking up the stream of topic '" + topic
                    + "': " + e.getMessage() + "; is the server running with JetStream enabled (-js)?", e);
        }
    }

    private StreamConfiguration config(String name, String topic) {
        StreamConfiguration.Builder b = StreamConfiguration.builder()
                .name(name)
                .subjects(subjectsFor(topic))
                .storageType(settings.storage)
                .retentionPolicy(settings.retention)
                .replicas(settings.replicas)
                .duplicateWindow(settings.duplicateWindow)
                .maxBytes(settings.maxBytes)
                .description("Courier topic " + topic);
        if (!settings.maxAge.isZero()) {
            b.maxAge(settings.maxAge);
        }
        return b.build();
    }

    /** Forgets cached lookups, e.g. after a stream was deleted behind our back. */
    void forget(String topic) {
        byTopic.remove(topic);
    }

    StreamInfo info(String name) throws IOException, JetStreamApiException {
        return jsm.getStreamInfo(name);
    }
}
