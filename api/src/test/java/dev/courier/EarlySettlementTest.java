package dev.courier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A synchronous handler that settles its delivery and goes on working: the settlement takes effect
 * when the handler returns, so BY_KEY order and close's drain still see the handler as running.
 */
class EarlySettlementTest {

    private final List<Courier> opened = new CopyOnWriteArrayList<>();

    private Courier connect() {
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url("mem://early-" + UUID.randomUUID())
                .set(CourierConfig.CLOSE_TIMEOUT, "5s").build()).connect();
        opened.add(c);
        return c;
    }

    @AfterEach
    void closeAll() {
        for (Courier c : opened) {
            c.close();
        }
    }

    @Test
    @DisplayName("a handler that acks early keeps its key until it returns: the next message of the key waits")
    void ackEarlyKeepsTheKey() throws Exception {
        Courier c = connect();
        AtomicBoolean firstReturned = new AtomicBoolean();
        CompletableFuture<Boolean> secondSawFirstReturned = new CompletableFuture<>();
        c.subscribe(Subscribe.to("early").group("g").concurrency(4), d -> {
            if ("1".equals(d.payload(String.class))) {
                d.ack(); // settle first, then finish the work
                Thread.sleep(300);
                firstReturned.set(true);
            } else {
                secondSawFirstReturned.complete(firstReturned.get());
            }
        });
        c.publisher().publish("early", "k", "1").toCompletableFuture().get(5, TimeUnit.SECONDS);
        c.publisher().publish("early", "k", "2").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(secondSawFirstReturned.get(5, TimeUnit.SECONDS)).as("message 2 of key k started after the handler of 1 returned").isTrue();
    }

    @Test
    @DisplayName("a handler that nacks early does not run beside its own redelivery")
    void nackEarlyDoesNotRunBesideItsRedelivery() throws Exception {
        Courier c = connect();
        AtomicBoolean firstReturned = new AtomicBoolean();
        CompletableFuture<Boolean> secondSawFirstReturned = new CompletableFuture<>();
        c.subscribe(Subscribe.to("renack").group("g").concurrency(4), d -> {
            if (d.attempt() == 1) {
                d.nack(Duration.ZERO);
                Thread.sleep(300);
                firstReturned.set(true);
            } else {
                secondSawFirstReturned.complete(firstReturned.get());
            }
        });
        c.publisher().publish("renack", "k", "1").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(secondSawFirstReturned.get(5, TimeUnit.SECONDS)).as("attempt 2 started after attempt 1 returned").isTrue();
    }

    @Test
    @DisplayName("a close whose drain runs out before a handler that acked early returns keeps the ack: the group does not get the message again")
    void closeWhoseDrainRunsOutKeepsAnEarlyAck() throws Exception {
        Courier c = connect();
        CountDownLatch acked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Subscription s = c.subscribe(Subscribe.to("slow").group("g").drainTimeout(Duration.ofMillis(200)), d -> {
            d.ack();
            acked.countDown();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (release.getCount() > 0 && System.nanoTime() < end) { // ignores interrupts, like much real work
                try {
                    release.await(50, TimeUnit.MILLISECONDS);
                } catch (InterruptedException ignored) {
                    // keeps working
                }
            }
        });
        c.publisher().publish("slow", "k", "1").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(acked.await(5, TimeUnit.SECONDS)).isTrue();
        s.close(); // the 200 ms drain runs out while the handler works on
        List<Integer> again = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to("slow").group("g"), d -> again.add(d.attempt()));
        Thread.sleep(500);
        release.countDown();
        Thread.sleep(300);
        assertThat(again).as("deliveries to the group after the close").isEmpty();
    }

    @Test
    @DisplayName("close without a drain keeps the settlement of a handler that acked and has not returned yet: the message is not redelivered")
    void closeWithoutDrainKeepsAnEarlyAck() throws Exception {
        String url = "mem://early-" + UUID.randomUUID();
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url(url).build()).connect();
        opened.add(c);
        CountDownLatch acked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Subscription s = c.subscribe(Subscribe.to("zero").group("g"), d -> {
            d.ack();
            acked.countDown();
            release.await(5, TimeUnit.SECONDS);
        });
        c.publisher().publish("zero", "k", "1").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(acked.await(5, TimeUnit.SECONDS)).isTrue();
        s.close(Duration.ZERO);
        release.countDown();
        List<Integer> again = new CopyOnWriteArrayList<>();
        c.subscribe(Subscribe.to("zero").group("g"), d -> again.add(d.attempt()));
        Thread.sleep(500);
        assertThat(again).as("deliveries to the group after the close").isEmpty();
    }

    @Test
    @DisplayName("a settlement from another thread while the handler runs takes effect once it returns, exactly once")
    void settlementFromAnotherThreadWhileRunning() throws Exception {
        List<String> settled = new CopyOnWriteArrayList<>();
        Courier c = Courier.builder().config(CourierConfig.builder().withoutEnvironment().url("mem://early-" + UUID.randomUUID()).build())
                .listener(new CourierListener() {
                    @Override
                    public void settled(Delivery delivery, Outcome outcome) {
                        settled.add(outcome.kind().name());
                    }
                }).connect();
        opened.add(c);
        CountDownLatch done = new CountDownLatch(2);
        c.subscribe(Subscribe.to("other").group("g"), d -> {
            Thread t = new Thread(() -> {
                d.deadLetter("from another thread");
                done.countDown();
            });
            t.start();
            t.join();
            assertThat(settled).as("not applied while the handler runs").isEmpty();
            done.countDown();
        });
        c.publisher().publish("other", "k", "1").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(200);
        assertThat(settled).containsExactly("DEAD_LETTER");
    }
}
