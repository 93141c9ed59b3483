package dev.courier.testkit;

import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.DeliveryMetadata;
import dev.courier.Message;
import dev.courier.PublishReceipt;
import dev.courier.Publisher;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A {@link Publisher} for unit tests that talks to no broker, in the vocabulary of Kafka's
 * {@code MockProducer}: every publish is recorded in {@link #history()}; in auto-complete mode (the
 * default) its stage completes at once, otherwise it waits until the test calls
 * {@link #completeNext()} or {@link #errorNext(RuntimeException)}, oldest first.
 *
 * <pre>{@code
 * MockPublisher publisher = new MockPublisher(false);
 * CompletionStage<PublishReceipt> stage = checkout.placeOrder(publisher, "o-1");
 * publisher.errorNext(new PublishException("orders", "broker said no", null));
 * assertThat(publisher.history()).extracting(Message::topic).containsExactly("orders");
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} refuses later publishes with {@link ClosedException}; stages
 * still pending stay pending until completed or errored, so a test can check what close left behind.
 */
public final class MockPublisher implements Publisher {

    private final Codecs codecs;
    private final List<Message> history = new ArrayList<>();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private boolean autoComplete;
    private boolean closed;
    private long sequence;

    private record Pending(Message message, CompletableFuture<PublishReceipt> stage) {
    }

    /** An auto-completing mock with the default codecs. */
    public MockPublisher() {
        this(true);
    }

    /** A mock with the default codecs; {@code autoComplete} false leaves every stage pending. */
    public MockPublisher(boolean autoComplete) {
        this(autoComplete, Codecs.defaults());
    }

    /** A mock that encodes payloads with {@code codecs}. */
    public MockPublisher(boolean autoComplete, Codecs codecs) {
        this.autoComplete = autoComplete;
        this.codecs = Objects.requireNonNull(codecs, "codecs");
    }

    /** Turns auto-completion on or off for later publishes. */
    public synchronized MockPublisher autoComplete(boolean autoComplete) {
        this.autoComplete = autoComplete;
        return this;
    }

    public synchronized boolean isAutoComplete() {
        return autoComplete;
    }

    @Override
    public Message.Builder message(String topic, Object payload) {
        return codecs.encode(topic, payload);
    }

    @Override
    public CompletionStage<PublishReceipt> publish(Message message) {
        Objects.requireNonNull(message, "message");
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new ClosedException("publisher"));
            }
            history.add(message);
            CompletableFuture<PublishReceipt> stage = new CompletableFuture<>();
            if (autoComplete) {
                stage.complete(receipt(message));
            } else {
                pending.add(new Pending(message, stage));
            }
            return stage;
        }
    }

    @Override
    public CompletionStage<List<PublishReceipt>> publishAll(Collection<Message> messages) {
        // refuses what the Courier's publisher refuses, before recording any of the batch
        Objects.requireNonNull(messages, "messages");
        int i = 0;
        for (Message m : messages) {
            if (m == null) {
                throw new NullPointerException("messages[" + i + "] is null; nothing of the batch was published");
            }
            i++;
        }
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new ClosedException("publisher"));
            }
        }
        if (messages.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        List<CompletableFuture<PublishReceipt>> stages = new ArrayList<>(messages.size());
        for (Message m : messages) {
            stages.add(publish(m).toCompletableFuture());
        }
        return CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)).thenApply(v -> {
            List<PublishReceipt> out = new ArrayList<>(stages.size());
            for (CompletableFuture<PublishReceipt> s : stages) {
                out.add(s.join());
            }
            return out;
        });
    }

    /** Completes the oldest pending publish successfully; {@code false} if none is pending. */
    public boolean completeNext() {
        Pending p;
        PublishReceipt receipt;
        synchronized (this) {
            p = pending.poll();
            if (p == null) {
                return false;
            }
            receipt = receipt(p.message());
        }
        p.stage().complete(receipt); // outside the lock: callbacks may publish again
        return true;
    }

    /** Fails the oldest pending publish with {@code error}; {@code false} if none is pending. */
    public boolean errorNext(RuntimeException error) {
        Objects.requireNonNull(error, "error");
        Pending p;
        synchronized (this) {
            p = pending.poll();
        }
        if (p == null) {
            return false;
        }
        p.stage().completeExceptionally(error);
        return true;
    }

    /** Completes every pending publish successfully; returns how many there were. */
    public int completeAll() {
        int n = 0;
        while (completeNext()) {
            n++;
        }
        return n;
    }

    /** Every message published (accepted, pending or failed later), oldest first. */
    public synchronized List<Message> history() {
        return List.copyOf(history);
    }

    /** The published messages to {@code topic}, oldest first. */
    public synchronized List<Message> history(String topic) {
        return history.stream().filter(m -> m.topic().equals(topic)).toList();
    }

    /** The payloads published to {@code topic}, decoded as {@code type}. */
    public <T> List<T> payloads(String topic, Class<T> type) {
        return history(topic).stream().map(m -> codecs.decode(m, type)).toList();
    }

    /** Forgets the history; pending publishes stay pending. */
    public synchronized void clear() {
        history.clear();
    }

    /** Publishes not yet completed or errored. */
    @Override
    public synchronized int outstanding() {
        return pending.size();
    }

    @Override
    public synchronized void close() {
        closed = true;
    }

    public synchronized boolean closed() {
        return closed;
    }

    private PublishReceipt receipt(Message m) {
        return new PublishReceipt(m.id(), m.topic(), DeliveryMetadata.sequence(sequence++, false), false);
    }

    @Override
    public synchronized String toString() {
        return "MockPublisher{" + history.size() + " published, " + pending.size() + " pending" + (closed ? ", closed" : "") + '}';
    }
}
