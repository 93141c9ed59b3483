package dev.courier.samples.pricing;

import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.NoResponderException;
import dev.courier.RequestFailedException;
import dev.courier.RequestTimeoutException;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Request-reply: a pricing service answers quote requests with {@code courier.respond}, and
 * clients ask with a timeout. The run shows the four things a requester meets:
 *
 * <ol>
 *   <li>normal quotes (two asked at once);</li>
 *   <li>an unknown product: the responder throws, the error travels back as a reply and the
 *       request fails at once with {@link RequestFailedException};</li>
 *   <li>a slow quote: the client gives up after its timeout with {@link RequestTimeoutException}
 *       (the late reply is dropped);</li>
 *   <li>nobody answering: {@link NoResponderException} at once where the binding can tell,
 *       else a {@link RequestTimeoutException}.</li>
 * </ol>
 */
public final class PricingSample {

    /** Asks for the price of {@code quantity} units of {@code productId}. */
    public record QuoteRequest(String productId, int quantity) {
    }

    /** The pricing service's answer; amounts in cents. */
    public record Quote(String productId, int quantity, long unitPriceCents, long totalCents) {
    }

    /** How each request ended, for the caller and the sample's test. */
    public record Summary(int quoted, int failed, int timedOut, String noResponderOutcome, int lateRepliesComputed) {
    }

    /** The catalog has no such product; the requester sees the message in its {@link RequestFailedException}. */
    public static final class UnknownProductException extends RuntimeException {
        UnknownProductException(String productId) {
            super("no price for product '" + productId + "'; known products: " + CATALOG.keySet());
        }
    }

    static final Map<String, Long> CATALOG = Map.of("widget", 250L, "gadget", 1_200L, "custom-desk", 89_000L);
    /** Products the service must ask a supplier about: it answers only after {@link #SLOW_QUOTE}. */
    static final String SLOW_PRODUCT = "custom-desk";
    static final Duration SLOW_QUOTE = Duration.ofMillis(1500);
    static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration IMPATIENT_TIMEOUT = Duration.ofMillis(300);

    private PricingSample() {
    }

    /**
     * Runs the pricing sample on the broker of {@code courier.url} / {@code COURIER_URL};
     * exit code 0 when every case ended as expected.
     */
    public static void main(String[] args) {
        CourierConfig config = CourierConfig.load();
        try {
            Summary s = run(config, System.out);
            System.exit(s.quoted() == 2 && s.failed() == 1 && s.timedOut() == 1 ? 0 : 1);
        } catch (RuntimeException e) {
            System.err.println("pricing sample failed on " + CourierConfig.maskUrl(config.url()) + ": " + e.getMessage());
            System.exit(1);
        }
    }

    /** Runs the four cases against the broker of {@code config}, printing a timeline to {@code out}. */
    public static Summary run(CourierConfig config, PrintStream out) {
        String prefix = "pricing." + Long.toString(System.currentTimeMillis(), 36) + Integer.toString((int) (Math.random() * 1296), 36);
        String quotes = prefix + ".quotes";
        Timeline timeline = new Timeline(out);
        AtomicInteger computed = new AtomicInteger();
        try (Courier courier = Courier.connect(config)) {
            timeline.note("pricing sample on %s (%s binding)", CourierConfig.maskUrl(courier.url()), courier.capabilities().binding());
            Subscription pricing = courier.respond(Subscribe.to(quotes).group("pricing").concurrency(4), d -> {
                QuoteRequest r = d.payload(QuoteRequest.class);
                Long unit = CATALOG.get(r.productId());
                if (unit == null) {
                    timeline.event("pricing", "unknown product '%s': error reply", r.productId());
                    throw new UnknownProductException(r.productId());
                }
                if (r.productId().equals(SLOW_PRODUCT)) {
                    timeline.event("pricing", "asking a supplier about %s (takes %d ms)", r.productId(), SLOW_QUOTE.toMillis());
                    Thread.sleep(SLOW_QUOTE.toMillis());
                    computed.incrementAndGet();
                }
                Quote q = new Quote(r.productId(), r.quantity(), unit, unit * r.quantity());
                timeline.event("pricing", "quote %d x %s = %s", r.quantity(), r.productId(), money(q.totalCents()));
                return q;
            });

            int quoted = 0;
            int failed = 0;
            int timedOut = 0;
            // 1. two quotes at once
            List<CompletableFuture<Quote>> asked = List.of(
                    ask(courier, timeline, quotes, new QuoteRequest("widget", 10), CLIENT_TIMEOUT),
                    ask(courier, timeline, quotes, new QuoteRequest("gadget", 1), CLIENT_TIMEOUT));
            for (CompletableFuture<Quote> f : asked) {
                Quote q = f.join();
                timeline.event("client", "got %d x %s for %s", q.quantity(), q.productId(), money(q.totalCents()));
                quoted++;
            }
            // 2. unknown product: the responder's exception comes back as a reply
            Throwable error = failure(ask(courier, timeline, quotes, new QuoteRequest("sprocket", 3), CLIENT_TIMEOUT));
            if (error instanceof RequestFailedException) {
                failed++;
            }
            timeline.event("client", "%s: %s", error.getClass().getSimpleName(), error.getMessage());
            // 3. a slow quote and an impatient client
            error = failure(ask(courier, timeline, quotes, new QuoteRequest(SLOW_PRODUCT, 1), IMPATIENT_TIMEOUT));
            if (error instanceof RequestTimeoutException) {
                timedOut++;
            }
            timeline.event("client", "%s: %s", error.getClass().getSimpleName(), error.getMessage());
            // 4. a topic nobody answers on
            error = failure(ask(courier, timeline, prefix + ".quotes-eu", new QuoteRequest("widget", 1), Duration.ofSeconds(2)));
            timeline.event("client", "%s: %s", error.getClass().getSimpleName(), error.getMessage());
            String noResponder = error.getClass().getSimpleName();

            pricing.close(); // waits for the slow quote to finish; its late reply has nobody waiting
            Summary s = new Summary(quoted, failed, timedOut, noResponder, computed.get());
            timeline.note("summary: %d quoted, %d failed (unknown product), %d timed out (slow quote), "
                    + "no responder -> %s", s.quoted(), s.failed(), s.timedOut(), s.noResponderOutcome());
            return s;
        }
    }

    private static CompletableFuture<Quote> ask(Courier courier, Timeline timeline, String topic, QuoteRequest r, Duration timeout) {
        timeline.event("client", "asks %s for %d x %s (timeout %d ms)", topic, r.quantity(), r.productId(), timeout.toMillis());
        return courier.requester().request(topic, r, Quote.class, timeout).toCompletableFuture();
    }

    /** The failure of a request that is expected to fail; a reply instead is a sample failure. */
    private static Throwable failure(CompletableFuture<Quote> f) {
        try {
            Quote q = f.join();
            throw new IllegalStateException("expected the request to fail, but it was answered: " + q);
        } catch (CompletionException e) {
            return e.getCause() != null ? e.getCause() : e;
        }
    }

    static String money(long cents) {
        return String.format("$%d.%02d", cents / 100, cents % 100);
    }
}
