package dev.courier.kafka;

import dev.courier.DeliveryMetadata;
import dev.courier.PublishReceipt;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Settles publishes on a thread that is publishing at the time, when there is one, rather than on
 * the producer's I/O thread.
 *
 * <p>While publishing threads keep the producer's buffer full, the producer's I/O thread and the
 * broker are what the publish rate waits for, and work that an answer from the broker sets off on
 * either core delays them: completing each caller's stage there (and running what the caller hung
 * on it) cost the plain producer a tenth of its rate in the client benchmark, and moving it to a
 * thread of its own did not win that back. A thread inside {@code send} has time to spare then: it
 * mostly waits for room in the buffer. So the producer's callback notes the answer in the publish's
 * own record and pushes it on a stack, and a publishing thread on its way out of {@code send} takes
 * the stack and settles each publish in the order the answers came (per partition, the order of
 * the records). When no thread is inside {@code send}, the callback settles the answers itself on
 * the I/O thread: a caller that publishes once and waits gets its confirm as soon as it arrives.
 * Should the threads inside {@code send} stay there (waiting for a new topic's metadata, up to
 * {@code max.block.ms}), answers left for them longer than {@value #STRANDED_MS} ms are settled on
 * the handler executor instead. Every answer is settled exactly once, one drain at a time.
 *
 * <p>A publish's stage therefore completes on the producer's I/O thread, on a thread that is
 * publishing through the same binding, or (rarely) on the handler executor; code chained onto it
 * runs there. Thread-safe.
 */
final class KafkaConfirms {

    private static final Logger log = LoggerFactory.getLogger(KafkaConfirms.class);
    /** How long answers may wait for a thread inside {@code send} before the handler executor settles them. */
    private static final long STRANDED_MS = 10;
    private static final VarHandle ANSWERED;
    private static final VarHandle SENDING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ANSWERED = lookup.findVarHandle(KafkaConfirms.class, "answered", Sent.class);
            SENDING = lookup.findVarHandle(KafkaConfirms.class, "sending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What a publish's stage fails with when the producer failed it. */
    @FunctionalInterface
    interface Failures {
        Throwable of(String topic, String id, Exception cause);
    }

    /** One publish: the producer's callback, and a node of the stack of answered publishes. */
    final class Sent implements Callback {
        private final CompletableFuture<PublishReceipt> result;
        private final String id;
        private final String topic;
        private RecordMetadata metadata;
        private Exception error;
        /** Written before the push that publishes it; read after the pop that takes it. */
        private Sent next;

        private Sent(CompletableFuture<PublishReceipt> result, String id, String topic) {
            this.result = result;
            this.id = id;
            this.topic = topic;
        }

        /** On the producer's I/O thread, or on the sending thread for a record the producer refused at once. */
        @Override
        public void onCompletion(RecordMetadata metadata, Exception error) {
            this.metadata = metadata;
            this.error = error;
            answered(this);
        }
    }

    private final Failures failures;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    /** Answered publishes not yet taken, the latest first. */
    private volatile Sent answered;
    /** Threads between {@link #beginSend()} and {@link #endSend()}. */
    private volatile int sending;
    /** Held by whoever settles: one drain at a time, so answers are settled in order. */
    private final AtomicBoolean settling = new AtomicBoolean();
    /** Drains so far; a check for stranded answers compares it with the count when it was armed. */
    private volatile long drains;
    private final AtomicBoolean checkArmed = new AtomicBoolean();

    /**
     * @param failures  what a publish's stage fails with when the producer failed the publish
     * @param scheduler times the check for answers left waiting for a thread inside {@code send}
     * @param executor  settles such answers
     */
    KafkaConfirms(Failures failures, ScheduledExecutorService scheduler, Executor executor) {
        this.failures = failures;
        this.scheduler = scheduler;
        this.executor = executor;
    }

    /** The producer callback that settles {@code result} with a receipt for message {@code id} on {@code topic}. */
    Sent callback(CompletableFuture<PublishReceipt> result, String id, String topic) {
        return new Sent(result, id, topic);
    }

    /** Before {@code producer.send}: answers that arrive meanwhile are left to this thread. */
    void beginSend() {
        SENDING.getAndAdd(this, 1);
    }

    /** After {@code producer.send}, in a {@code finally}: settles what was answered meanwhile. */
    void endSend() {
        SENDING.getAndAdd(this, -1);
        if (answered != null) {
            settleAnswered();
        }
    }

    private void answered(Sent s) {
        Sent top;
        do {
            top = answered;
            s.next = top;
        } while (!ANSWERED.compareAndSet(this, top, s));
        if (top != null) {
            return; // whoever is to drain the stack takes this one too (the push that found it empty saw to that)
        }
        // a thread in send() reads the stack after it has left (endSend); with none there, settle here
        if (sending == 0) {
            settleAnswered();
        } else if (!checkArmed.get() && checkArmed.compareAndSet(false, true)) {
            armCheck(drains);
        }
    }

    private void armCheck(long drainsThen) {
        try {
            scheduler.schedule(() -> check(drainsThen), STRANDED_MS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            checkArmed.set(false);
            settleAnswered(); // the scheduler is shut down: Courier is closing
        }
    }

    /** Answers still waiting and no drain since the check was armed: the threads in send() are stuck there. */
    private void check(long drainsThen) {
        if (answered == null) {
            checkArmed.set(false);
            if (answered != null && checkArmed.compareAndSet(false, true)) {
                armCheck(drains); // pushed while clearing: look again later
            }
            return;
        }
        long now = drains;
        if (now != drainsThen) {
            armCheck(now); // drained meanwhile, and more arrived: give the senders another period
            return;
        }
        checkArmed.set(false);
        try {
            executor.execute(this::settleAnswered);
        } catch (RejectedExecutionException e) {
            settleAnswered();
        }
    }

    /** Settles every answered publish, in the order of the answers, unless another thread is at it (it takes these too). */
    void settleAnswered() {
        while (answered != null && settling.compareAndSet(false, true)) {
            try {
                Sent s = (Sent) ANSWERED.getAndSet(this, (Sent) null);
                // the latest answer is on top: reverse
                Sent first = null;
                while (s != null) {
                    Sent next = s.next;
                    s.next = first;
                    first = s;
                    s = next;
                }
                for (s = first; s != null; ) {
                    Sent next = s.next;
                    s.next = null;
                    settle(s);
                    s = next;
                }
                drains++;
            } finally {
                settling.set(false);
            }
            // answers pushed while this thread settled, by threads that found it busy: loop for them
        }
    }

    private void settle(Sent s) {
        try {
            if (s.error == null) {
                RecordMetadata md = s.metadata;
                s.result.complete(new PublishReceipt(s.id, s.topic, DeliveryMetadata.partitionOffset(md.partition(), md.offset()), false));
            } else {
                s.result.completeExceptionally(failures.of(s.topic, s.id, s.error));
            }
        } catch (RuntimeException | Error e) {
            log.error("settling the publish of message {} to '{}' failed", s.id, s.topic, e);
            s.result.completeExceptionally(e);
        }
    }
}
