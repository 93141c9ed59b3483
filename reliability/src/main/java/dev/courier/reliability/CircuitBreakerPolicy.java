package dev.courier.reliability;

import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;

import java.time.Duration;
import java.util.Objects;

/**
 * A circuit breaker around each subscription's handler (one breaker per topic and group), made from
 * a resilience4j {@link CircuitBreakerConfig}. It counts handler attempts that fail or time out;
 * failures that are the message's fault (non-retryable, undecodable) do not count. While it is open
 * the subscription is paused and deliveries that reach it are held, unsettled and without burning
 * attempts, until it lets calls through again. Immutable.
 */
public final class CircuitBreakerPolicy {

    /** Default failure rate (percent) that opens the breaker: {@value}. */
    public static final float DEFAULT_FAILURE_RATE_THRESHOLD = 50f;
    /** Default size of the count-based sliding window: {@value}. */
    public static final int DEFAULT_SLIDING_WINDOW = 20;
    /** Default number of calls before the failure rate is computed: {@value}. */
    public static final int DEFAULT_MINIMUM_CALLS = 10;
    /** Default time the breaker stays open before letting trial calls through: 30 s. */
    public static final Duration DEFAULT_WAIT_IN_OPEN = Duration.ofSeconds(30);

    private final CircuitBreakerConfig config;

    private CircuitBreakerPolicy(CircuitBreakerConfig config) {
        this.config = config;
    }

    /**
     * A breaker with {@code config}. The policy moves an open breaker to half-open itself when its
     * wait is over, whether or not {@code automaticTransitionFromOpenToHalfOpenEnabled} is set, so
     * a paused subscription always resumes.
     */
    public static CircuitBreakerPolicy of(CircuitBreakerConfig config) {
        return new CircuitBreakerPolicy(Objects.requireNonNull(config, "config"));
    }

    /** The defaults above, count-based window. */
    public static CircuitBreakerPolicy ofDefaults() {
        return of(DEFAULT_FAILURE_RATE_THRESHOLD, DEFAULT_SLIDING_WINDOW, DEFAULT_MINIMUM_CALLS, DEFAULT_WAIT_IN_OPEN);
    }

    /**
     * A count-based breaker that opens when at least {@code failureRateThreshold} percent of the last
     * {@code slidingWindow} attempts failed (once {@code minimumCalls} were made) and stays open for
     * {@code waitInOpen}.
     *
     * @throws IllegalArgumentException for a threshold outside (0, 100], a window or minimum below
     *                                  1, or a wait that is not positive
     */
    public static CircuitBreakerPolicy of(float failureRateThreshold, int slidingWindow, int minimumCalls, Duration waitInOpen) {
        if (!(failureRateThreshold > 0 && failureRateThreshold <= 100)) {
            throw new IllegalArgumentException("failure rate threshold must be above 0 and at most 100 (percent), was " + failureRateThreshold);
        }
        if (slidingWindow < 1 || minimumCalls < 1) {
            throw new IllegalArgumentException("sliding window and minimum calls must be 1 or more, were " + slidingWindow + " and " + minimumCalls);
        }
        Objects.requireNonNull(waitInOpen, "waitInOpen");
        if (waitInOpen.isNegative() || waitInOpen.isZero()) {
            throw new IllegalArgumentException("wait in open state must be positive, was " + waitInOpen);
        }
        return of(CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(failureRateThreshold)
                .slidingWindowSize(slidingWindow)
                .minimumNumberOfCalls(minimumCalls)
                .waitDurationInOpenState(waitInOpen)
                .build()); // the policy schedules the move to half-open itself (on its daemon timer)
    }

    public CircuitBreakerConfig config() {
        return config;
    }

    /** How long the breaker stays open after opening for the {@code timesOpened}-th time. */
    Duration waitInOpen(int timesOpened) {
        return Duration.ofMillis(config.getWaitIntervalFunctionInOpenState().apply(Math.max(1, timesOpened)));
    }

    @Override
    public String toString() {
        return "CircuitBreakerPolicy{failureRate=" + config.getFailureRateThreshold() + "%, window=" + config.getSlidingWindowSize()
                + ", minimumCalls=" + config.getMinimumNumberOfCalls() + ", waitInOpen=" + waitInOpen(1).toMillis() + "ms}";
    }
}
