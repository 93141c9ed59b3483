package dev.courier.testkit;

import dev.courier.Codecs;
import dev.courier.CourierListener;
import dev.courier.Message;
import dev.courier.PublishReceipt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a {@link dev.courier.Courier} published, in the order the broker confirmed it, recorded
 * through a {@link CourierListener}; for assertions in users' tests (see {@link CourierTest}).
 * Only what goes through the Courier's publishers is recorded: dead letters and replies the
 * Courier sends on its own are not. Thread-safe.
 */
public final class PublishedMessages {

    private final List<Message> published = new CopyOnWriteArrayList<>();
    private final List<Message> failed = new CopyOnWriteArrayList<>();
    private volatile Codecs codecs = Codecs.defaults();
    private volatile Await await = Await.await();

    private final CourierListener listener = new CourierListener() {
        @Override
        public void published(Message message, PublishReceipt receipt) {
            published.add(message);
        }

        @Override
        public void publishFailed(Message message, Throwable error) {
            failed.add(message);
        }
    };

    /** A recorder; pass {@link #listener()} to {@code Courier.builder().listener(...)}. */
    public PublishedMessages() {
    }

    /** The listener that feeds this recorder. */
    public CourierListener listener() {
        return listener;
    }

    /** Decodes {@link #payloads} with these codecs (the Courier's own, so custom codecs apply). */
    public PublishedMessages useCodecs(Codecs codecs) {
        this.codecs = codecs;
        return this;
    }

    /** Waits at most {@code timeout} in {@link #awaitPublished}; default 30 s. */
    public PublishedMessages awaitAtMost(Duration timeout) {
        this.await = Await.atMost(timeout);
        return this;
    }

    /** Every confirmed message, in confirmation order. */
    public List<Message> all() {
        return List.copyOf(published);
    }

    /** Confirmed messages to {@code topic}, in confirmation order. */
    public List<Message> published(String topic) {
        List<Message> out = new ArrayList<>();
        for (Message m : published) {
            if (m.topic().equals(topic)) {
                out.add(m);
            }
        }
        return out;
    }

    /** The payloads of the confirmed messages to {@code topic}, decoded as {@code type}. */
    public <T> List<T> payloads(String topic, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Message m : published(topic)) {
            out.add(codecs.decode(m, type));
        }
        return out;
    }

    /** Waits until at least {@code count} messages to {@code topic} are confirmed, then returns them all. */
    public List<Message> awaitPublished(String topic, int count) {
        await.until(count + " message(s) published to '" + topic + "'", () -> published(topic).size() >= count,
                () -> published(topic).size() + " published to '" + topic + "', " + published.size() + " in all");
        return published(topic);
    }

    /** Messages whose publish failed. */
    public List<Message> failed() {
        return List.copyOf(failed);
    }

    /** Forgets everything recorded so far. */
    public void clear() {
        published.clear();
        failed.clear();
    }

    @Override
    public String toString() {
        return "PublishedMessages{" + published.size() + " published, " + failed.size() + " failed}";
    }
}
