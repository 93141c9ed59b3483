package dev.courier.internal;

import dev.courier.AsyncMessageHandler;
import dev.courier.BrokerUnavailableException;
import dev.courier.Capabilities;
import dev.courier.ClosedException;
import dev.courier.Codecs;
import dev.courier.CourierConfig;
import dev.courier.CourierException;
import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Interceptor;
import dev.courier.MessageHandler;
import dev.courier.Outcome;
import dev.courier.Publisher;
import dev.courier.RequestHandler;
import dev.courier.Requester;
import dev.courier.Subscribe;
import dev.courier.Subscription;
import dev.courier.spi.Binding;
import dev.courier.spi.BindingContext;
import dev.courier.spi.BindingProvider;
import dev.courier.spi.BindingSubscription;
import dev.courier.spi.BrokerUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/** Everything behind the {@link dev.courier.Courier} facade: binding, executors, codecs, chain, open resources. */
public final class CourierCore {

    private static final Logger log = LoggerFactory.getLogger(CourierCore.class);

    private final CourierConfig config;
    private final BrokerUrl url;
    private final Binding binding;
    private final Codecs codecs;
    private final List<Interceptor> interceptors;
    private final InterceptorProviders.Installed owned;
    private final CourierListener listener;
    private final ExecutorService handlerExecutor;
    private final ScheduledExecutorService scheduler;
    private final Set<DefaultSubscription> subscriptions = ConcurrentHashMap.newKeySet();
    private final Set<DefaultPublisher> publishers = ConcurrentHashMap.newKeySet();
    private final DefaultPublisher sharedPublisher;
    private final DefaultRequester requester;
    private volatile boolean closed;
    /** Set by the one call that closes; {@link #closeFinished} opens when it is done. */
    private final AtomicBoolean closing = new AtomicBoolean();
    private final CountDownLatch closeFinished = new CountDownLatch(1);

    public CourierCore(CourierConfig config, Codecs codecs, List<Interceptor> interceptors, CourierListener listener) {
        this(config, codecs, new InterceptorProviders.Installed(interceptors, List.of()), listener);
    }

    /** A core whose chain is {@code chain.interceptors()}; it closes {@code chain.owned()} last, when it closes. */
    public CourierCore(CourierConfig config, Codecs codecs, InterceptorProviders.Installed chain, CourierListener listener) {
        List<Interceptor> interceptors = chain.interceptors();
        this.owned = chain;
        this.config = config.validate();
        this.url = BrokerUrl.parse(config.url());
        this.codecs = codecs != null ? codecs : new Codecs(Codecs.defaultObjectMapper(), config.trustedPackages());
        this.interceptors = List.copyOf(interceptors);
        this.listener = listener != null ? listener : CourierListener.NONE;
        BindingProvider provider = BindingRegistry.forScheme(url.scheme(), url.toString());
        provider.configKeys().check(config, url); // before any thread or connection exists
        this.handlerExecutor = HandlerExecutors.handlerExecutor(config.get(CourierConfig.HANDLER_THREADS));
        this.scheduler = HandlerExecutors.scheduler();
        Binding opened;
        try {
            opened = provider.open(new BindingContext(url, config, handlerExecutor, scheduler));
        } catch (CourierException e) {
            shutdownExecutors(Duration.ZERO);
            throw e;
        } catch (RuntimeException e) {
            shutdownExecutors(Duration.ZERO);
            throw new BrokerUnavailableException("cannot connect to " + url + " with the " + provider.name() + " binding: " + e.getMessage(), e);
        }
        this.binding = opened;
        this.sharedPublisher = newPublisher(false);
        this.requester = new DefaultRequester(binding, this.codecs, () -> closed, this.config.requestTimeout());
        log.info("connected to {} ({} binding, capabilities {})", url, provider.name(), binding.capabilities().all());
    }

    public Publisher publisher() {
        checkOpen();
        return sharedPublisher;
    }

    public Publisher newPublisher() {
        checkOpen();
        return newPublisher(true);
    }

    private DefaultPublisher newPublisher(boolean tracked) {
        DefaultPublisher[] self = new DefaultPublisher[1];
        DefaultPublisher p = new DefaultPublisher(binding, codecs, listener, scheduler, handlerExecutor, config.publishTimeout(),
                config.closeTimeout(), () -> publishers.remove(self[0]));
        self[0] = p;
        if (tracked) {
            publishers.add(p);
        }
        return p;
    }

    public Subscription subscribe(Subscribe spec, MessageHandler handler) {
        return subscribe(spec, Terminals.of(handler), false);
    }

    public Subscription subscribeAsync(Subscribe spec, AsyncMessageHandler handler) {
        return subscribe(spec, Terminals.of(handler), false);
    }

    public Subscription respond(Subscribe spec, RequestHandler handler) {
        return subscribe(spec, Terminals.of(handler, binding, codecs), true);
    }

    private Subscription subscribe(Subscribe spec, Function<Delivery, CompletionStage<Outcome>> terminal, boolean responder) {
        checkOpen();
        LateFlow flow = new LateFlow();
        List<Interceptor> chain = spec.bindingOption(Unintercepted.class).isPresent() ? List.of() : interceptors;
        SubscriptionPipeline pipeline = new SubscriptionPipeline(spec, binding, codecs, chain, listener, terminal, handlerExecutor, flow);
        BindingSubscription inner = responder ? binding.respond(spec, pipeline) : binding.subscribe(spec, pipeline);
        DefaultSubscription[] self = new DefaultSubscription[1];
        DefaultSubscription s = new DefaultSubscription(spec, pipeline, inner, flow::closing, () -> subscriptions.remove(self[0]));
        self[0] = s;
        flow.attach(s);
        subscriptions.add(s);
        return s;
    }

    public Requester requester() {
        checkOpen();
        return requester;
    }

    public Capabilities capabilities() {
        return binding.capabilities();
    }

    public Codecs codecs() {
        return codecs;
    }

    public CourierConfig config() {
        return config;
    }

    public BrokerUrl url() {
        return url;
    }

    public Binding binding() {
        return binding;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes subscriptions (draining them), flushes publishers, then closes the binding and
     * executors, and last the configured interceptors the Courier owns. Every wait comes out of
     * one {@code courier.close.timeout}: a subscription drains for its own drain timeout or what
     * is left of the close timeout, whichever is shorter. Every subscription stops taking messages
     * before the first drain is waited for, so the drains run side by side; then the deliveries
     * the chains hold for later (backoffs, breaker holds) are given back, so a drain waits only for
     * the handlers running.
     *
     * <p>The first call closes; a concurrent one waits for it to finish, except on a handler
     * thread, where it returns at once: the first close may be waiting for that very handler's
     * drain (two handlers that close the Courier at once would otherwise wait out the close
     * timeout for each other).
     */
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            if (!SubscriptionPipeline.isHandlingAny()) {
                awaitCloseFinished();
            }
            return;
        }
        closed = true;
        try {
            closeOnce();
        } finally {
            closeFinished.countDown();
        }
    }

    private void awaitCloseFinished() {
        try {
            closeFinished.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeOnce() {
        long deadline = System.nanoTime() + TimeUnit.NANOSECONDS.convert(config.closeTimeout());
        List<DefaultSubscription> closingSubscriptions = new ArrayList<>(subscriptions);
        Duration[] drains = new Duration[closingSubscriptions.size()];
        boolean[] started = new boolean[drains.length];
        for (int i = 0; i < drains.length; i++) {
            DefaultSubscription s = closingSubscriptions.get(i);
            Duration left = left(deadline);
            drains[i] = s.spec().drainTimeout().compareTo(left) < 0 ? s.spec().drainTimeout() : left;
            started[i] = s.startClose(drains[i]);
        }
        for (int i = 0; i < drains.length; i++) {
            if (started[i]) {
                closingSubscriptions.get(i).giveBackHeld();
            }
        }
        for (int i = 0; i < drains.length; i++) {
            closingSubscriptions.get(i).awaitClose(started[i], drains[i]);
        }
        for (DefaultPublisher p : new ArrayList<>(publishers)) {
            p.close(left(deadline));
        }
        sharedPublisher.close(left(deadline));
        // after the subscriptions' drain (a responder of this Courier may still have answered), before the binding goes
        requester.close();
        try {
            binding.close();
        } catch (RuntimeException e) {
            log.warn("closing the {} binding failed: {}", url.scheme(), e.toString());
        }
        if (SubscriptionPipeline.isHandlingAny()) {
            // called from a handler: the handler executor cannot finish before this returns, and interrupting its
            // threads would interrupt the caller; its threads end as their handlers return
            scheduler.shutdownNow();
            handlerExecutor.shutdown();
        } else {
            shutdownExecutors(left(deadline));
        }
        // last: handlers that were still draining may have used them (e.g. an idempotency store)
        owned.closeOwned();
        log.info("closed connection to {}", url);
    }

    /** What is left until {@code deadline} ({@link System#nanoTime()}), never negative. */
    private static Duration left(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }

    private void shutdownExecutors(Duration wait) {
        scheduler.shutdownNow();
        handlerExecutor.shutdown();
        try {
            if (!handlerExecutor.awaitTermination(wait.toNanos(), TimeUnit.NANOSECONDS)) {
                handlerExecutor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            handlerExecutor.shutdownNow();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new ClosedException("courier for " + url);
        }
    }

    /**
     * The chain's view of a subscription's flow control: the chain's own pause, kept apart from the
     * application's. Deliveries can reach the chain before {@code subscribe} returns, so a pause
     * asked for before the subscription exists is applied as soon as it does.
     */
    private static final class LateFlow implements Interceptor.Flow {
        private DefaultSubscription subscription;
        private Boolean pending;
        /** What gives back the deliveries links hold, one object per registration; taken by {@link #closing()}. */
        private final Set<Runnable> onClose = ConcurrentHashMap.newKeySet();
        private volatile boolean closing;

        synchronized void attach(DefaultSubscription s) {
            subscription = s;
            if (Boolean.TRUE.equals(pending)) {
                s.pauseByChain();
            }
            pending = null;
        }

        @Override
        public synchronized void pause() {
            if (subscription != null) {
                subscription.pauseByChain();
            } else {
                pending = Boolean.TRUE;
            }
        }

        @Override
        public synchronized void resume() {
            if (subscription != null) {
                subscription.resumeByChain();
            } else {
                pending = Boolean.FALSE;
            }
        }

        @Override
        public synchronized boolean isPaused() {
            return subscription != null ? subscription.isPaused() : Boolean.TRUE.equals(pending);
        }

        @Override
        public synchronized boolean isClosed() {
            return subscription != null && subscription.isClosed();
        }

        @Override
        public Runnable onClose(Runnable giveBack) {
            Objects.requireNonNull(giveBack, "giveBack");
            Runnable registration = new Runnable() { // its own identity, even for an action registered twice
                @Override
                public void run() {
                    giveBack.run();
                }
            };
            onClose.add(registration);
            // lock-free: whichever of this and closing() removes the registration runs it, so it runs once
            if (closing && onClose.remove(registration)) {
                run(registration);
            }
            return () -> onClose.remove(registration);
        }

        /** The subscription started closing: gives back what the links hold, and from now on what they register. */
        void closing() {
            closing = true;
            for (Runnable r : onClose) {
                if (onClose.remove(r)) {
                    run(r);
                }
            }
        }

        private static void run(Runnable giveBack) {
            try {
                giveBack.run();
            } catch (RuntimeException | Error e) {
                log.warn("an interceptor's close action threw; ignored (the delivery it holds may keep the close waiting)", e);
            }
        }
    }
}
