package dev.courier.internal;

import dev.courier.CourierListener;
import dev.courier.Delivery;
import dev.courier.Interceptor;
import dev.courier.Outcome;
import dev.courier.Subscribe;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * The interceptor chain: an immutable list plus an index, as in OkHttp. Checks the interceptor
 * contract at run time (no null outcome) and turns exceptions into FAILED outcomes.
 */
final class HandlerChain implements Interceptor.Chain {

    private final List<Interceptor> interceptors;
    private final int index;
    private final Delivery delivery;
    private final Subscribe spec;
    private final Function<Delivery, CompletionStage<Outcome>> terminal;
    private final ChainContext context;
    /** The broker's delivery, whose settlement counts even where an interceptor passed a replacement on. */
    private final DeliveryImpl origin;

    HandlerChain(List<Interceptor> interceptors, int index, Delivery delivery, Subscribe spec,
                 Function<Delivery, CompletionStage<Outcome>> terminal, ChainContext context, DeliveryImpl origin) {
        this.interceptors = interceptors;
        this.index = index;
        this.delivery = delivery;
        this.spec = spec;
        this.terminal = terminal;
        this.context = context;
        this.origin = origin;
    }

    /** What every chain of one subscription shares. */
    record ChainContext(Executor executor, Interceptor.Flow flow, CourierListener listener) {
    }

    @Override
    public Executor executor() {
        return context.executor();
    }

    @Override
    public Interceptor.Flow flow() {
        return context.flow();
    }

    @Override
    public CourierListener listener() {
        return context.listener();
    }

    @Override
    public Outcome settlement() {
        return origin.settlement();
    }

    @Override
    public Delivery delivery() {
        return delivery;
    }

    @Override
    public Subscribe subscription() {
        return spec;
    }

    @Override
    public CompletionStage<Outcome> proceed(Delivery d) {
        if (index >= interceptors.size()) {
            return origin.runHandler(terminal, d);
        }
        Interceptor interceptor = interceptors.get(index);
        CompletionStage<Outcome> result;
        try {
            result = interceptor.intercept(new HandlerChain(interceptors, index + 1, d, spec, terminal, context, origin));
        } catch (Throwable e) {
            // checked exceptions too: intercept() declares none, but Kotlin and sneaky throws raise them
            return CompletableFuture.completedFuture(Outcome.failed(e));
        }
        if (result == null) {
            return CompletableFuture.completedFuture(Outcome.failed(new IllegalStateException(
                    "interceptor " + interceptor.getClass().getName() + " returned null; it must return chain.proceed(...) or an Outcome")));
        }
        return result;
    }
}
