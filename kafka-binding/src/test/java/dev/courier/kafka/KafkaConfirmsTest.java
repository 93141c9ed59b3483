package dev.courier.kafka;

import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Who settles a publish: the test plays the publishing threads (beginSend, endSend) and the
 * producer's I/O thread (the callback), without a broker.
 */
class KafkaConfirmsTest {

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "test-scheduler"));
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-handlers"));
    /**
     * A timer whose thread is kept busy until the test ends, so the check for stranded answers never
     * runs: the tests of who settles what must not depend on how fast this machine is.
     */
    private final ScheduledExecutorService held = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "test-held-timer"));
    private final CountDownLatch release = new CountDownLatch(1);
    private final KafkaConfirms confirms = confirms(held, r -> {
        throw new AssertionError("fell back to the executor");
    });

    KafkaConfirmsTest() {
        held.execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private static KafkaConfirms confirms(ScheduledExecutorService timer, Executor fallback) {
        return new KafkaConfirms((topic, id, cause) -> new PublishException(topic, "message " + id + ": " + cause.getMessage(), cause),
                timer, fallback);
    }

    @AfterEach
    void stop() {
        release.countDown();
        held.shutdownNow();
        scheduler.shutdownNow();
        executor.shutdownNow();
    }

    private static RecordMetadata at(int partition, long offset) {
        return new RecordMetadata(new TopicPartition("t", partition), offset, 0, 0L, 0, 0);
    }

    /** Runs {@code r} on a thread of its own, as the producer's I/O thread, and waits for it. */
    private static void onIoThread(Runnable r) throws InterruptedException {
        Thread t = new Thread(r, "io");
        t.start();
        t.join();
    }

    @Test
    @DisplayName("with no thread in send, the answering thread settles the publish at once, with id, topic, partition and offset")
    void settledByTheAnsweringThread() throws Exception {
        CompletableFuture<PublishReceipt> result = new CompletableFuture<>();
        AtomicReference<String> ranOn = new AtomicReference<>();
        result.whenComplete((r, e) -> ranOn.set(Thread.currentThread().getName()));
        KafkaConfirms.Sent callback = confirms.callback(result, "id-1", "orders");
        confirms.beginSend();
        confirms.endSend();
        onIoThread(() -> callback.onCompletion(at(3, 42), null));
        assertThat(result).isCompleted();
        PublishReceipt receipt = result.get();
        assertThat(receipt.messageId()).isEqualTo("id-1");
        assertThat(receipt.topic()).isEqualTo("orders");
        assertThat(receipt.position().partition()).hasValue(3);
        assertThat(receipt.position().offset()).hasValue(42L);
        assertThat(ranOn.get()).isEqualTo("io");
    }

    @Test
    @DisplayName("answers that arrive while a thread is in send are settled by that thread on its way out, in the order they came")
    void settledByThePublishingThread() throws Exception {
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        List<KafkaConfirms.Sent> callbacks = new ArrayList<>();
        List<CompletableFuture<PublishReceipt>> results = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            CompletableFuture<PublishReceipt> r = new CompletableFuture<>();
            int n = i;
            r.whenComplete((x, e) -> order.add(n + " on " + Thread.currentThread().getName()));
            results.add(r);
            callbacks.add(confirms.callback(r, "id" + i, "t"));
        }
        confirms.beginSend();
        onIoThread(() -> {
            callbacks.get(1).onCompletion(at(1, 5), null);
            callbacks.get(0).onCompletion(at(0, 9), null);
            callbacks.get(2).onCompletion(null, new IllegalStateException("record too large"));
        });
        assertThat(results).as("left to the thread in send").noneMatch(CompletableFuture::isDone);
        confirms.endSend();
        String me = Thread.currentThread().getName();
        assertThat(order).containsExactly("1 on " + me, "0 on " + me, "2 on " + me);
        assertThatThrownBy(() -> results.get(2).join()).cause().isInstanceOf(PublishException.class)
                .hasMessageContaining("message id2: record too large");
    }

    @Test
    @DisplayName("a record refused inside send (callback on the sending thread) is settled when send returns")
    void refusedInsideSend() {
        CompletableFuture<PublishReceipt> result = new CompletableFuture<>();
        KafkaConfirms.Sent callback = confirms.callback(result, "x", "t");
        confirms.beginSend();
        callback.onCompletion(null, new IllegalArgumentException("too big"));
        assertThat(result).isNotDone();
        confirms.endSend();
        assertThat(result).isCompletedExceptionally();
    }

    @Test
    @DisplayName("answers left for a thread that stays in send are settled on the handler executor after a short while")
    void strandedAnswers() throws Exception {
        CompletableFuture<PublishReceipt> result = new CompletableFuture<>();
        AtomicReference<String> ranOn = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        result.whenComplete((r, e) -> {
            ranOn.set(Thread.currentThread().getName());
            done.countDown();
        });
        KafkaConfirms live = confirms(scheduler, executor);
        KafkaConfirms.Sent callback = live.callback(result, "x", "t");
        live.beginSend(); // and never leaves, as a send waiting for a new topic's metadata
        onIoThread(() -> callback.onCompletion(at(0, 1), null));
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ranOn.get()).isEqualTo("test-handlers");
    }

    @Test
    @DisplayName("a callback that publishes again from a settling thread neither recurses nor loses the new answer")
    void publishFromACallback() throws Exception {
        CompletableFuture<PublishReceipt> second = new CompletableFuture<>();
        KafkaConfirms.Sent secondCallback = confirms.callback(second, "2", "t");
        CompletableFuture<PublishReceipt> first = new CompletableFuture<>();
        first.whenComplete((r, e) -> {
            // inside the settling of the first: a new publish, answered before its send returns
            confirms.beginSend();
            secondCallback.onCompletion(at(0, 2), null);
            confirms.endSend();
        });
        KafkaConfirms.Sent firstCallback = confirms.callback(first, "1", "t");
        onIoThread(() -> firstCallback.onCompletion(at(0, 1), null));
        assertThat(first).isCompleted();
        assertThat(second).as("settled by the same drain, after the first").isCompleted();
    }

    @Test
    @DisplayName("publishing threads and an answering thread racing: every publish is settled exactly once, none left behind")
    void races() throws Exception {
        // the stranded-answer check never gets to run (the fixture's timer is kept busy): the hand-over
        // between send() and the callback alone must settle everything
        int publishers = 3;
        int each = 20_000;
        ConcurrentLinkedQueue<KafkaConfirms.Sent> inFlight = new ConcurrentLinkedQueue<>();
        AtomicInteger settled = new AtomicInteger();
        AtomicInteger twice = new AtomicInteger();
        CountDownLatch sent = new CountDownLatch(publishers);
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < publishers; p++) {
            threads.add(new Thread(() -> {
                for (int i = 0; i < each; i++) {
                    CompletableFuture<PublishReceipt> r = new CompletableFuture<>();
                    AtomicInteger times = new AtomicInteger();
                    r.whenComplete((x, e) -> {
                        if (times.incrementAndGet() > 1) {
                            twice.incrementAndGet();
                        }
                        settled.incrementAndGet();
                    });
                    KafkaConfirms.Sent callback = confirms.callback(r, "id", "t");
                    confirms.beginSend();
                    inFlight.add(callback);
                    if (ThreadLocalRandom.current().nextInt(8) == 0) {
                        Thread.yield();
                    }
                    confirms.endSend();
                }
                sent.countDown();
            }));
        }
        Thread io = new Thread(() -> {
            long offset = 0;
            while (sent.getCount() > 0 || !inFlight.isEmpty()) {
                KafkaConfirms.Sent s = inFlight.poll();
                if (s == null) {
                    Thread.onSpinWait();
                    continue;
                }
                s.onCompletion(at(0, offset++), null);
            }
        });
        threads.forEach(Thread::start);
        io.start();
        for (Thread t : threads) {
            t.join();
        }
        io.join();
        assertThat(settled).hasValue(publishers * each);
        assertThat(twice).hasValue(0);
    }
}
