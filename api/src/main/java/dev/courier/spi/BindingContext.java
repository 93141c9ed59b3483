package dev.courier.spi;

import dev.courier.CourierConfig;

import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What a binding gets from Courier when it opens: the parsed URL, the whole configuration, the
 * executor that runs handlers (virtual threads on JDK 21+ unless configured otherwise), and a
 * shared scheduler for timers (redelivery delays, timeouts). The binding must not shut either
 * executor down; Courier owns them.
 */
public record BindingContext(BrokerUrl url, CourierConfig config, Executor handlerExecutor, ScheduledExecutorService scheduler) {
}
