package dev.courier.samples.saga;

import dev.courier.Courier;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.samples.Timeline;
import dev.courier.samples.saga.SagaEvents.OrderOutcome;

import java.util.concurrent.atomic.AtomicInteger;

/** Tells customers how their order ended (here: prints the e-mail it would send). */
final class NotificationService {

    static final String GROUP = "notification";

    private final Courier courier;
    private final SagaTopics topics;
    private final Timeline timeline;
    private final AtomicInteger sent = new AtomicInteger();

    NotificationService(Courier courier, SagaTopics topics, Timeline timeline) {
        this.courier = courier;
        this.topics = topics;
        this.timeline = timeline;
    }

    Subscription start() {
        return courier.subscribe(Subscribe.to(topics.outcomes()).group(GROUP).concurrency(2), d -> {
            OrderOutcome o = d.payload(OrderOutcome.class);
            timeline.event("notification", "e-mail to %s: order %s %s%s", o.customer(), o.orderId(),
                    o.state().name().toLowerCase(java.util.Locale.ROOT), o.reason() == null ? "" : " (" + o.reason() + ")");
            sent.incrementAndGet();
        });
    }

    int sent() {
        return sent.get();
    }
}
