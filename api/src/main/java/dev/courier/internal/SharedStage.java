package dev.courier.internal;

import java.util.concurrent.CompletableFuture;

/**
 * A completed stage that many callers share instead of each getting a new one (an acknowledged
 * handler run, a delivery settled before anyone asked for its stage). Nobody can change it: it is
 * complete already, so {@code complete} and {@code cancel} do nothing, and obtruding is refused.
 * Stages made from it are plain {@link CompletableFuture}s.
 */
final class SharedStage<T> extends CompletableFuture<T> {

    SharedStage(T value) {
        super.complete(value);
    }

    @Override
    public void obtrudeValue(T value) {
        throw new UnsupportedOperationException("a shared completed stage cannot be changed");
    }

    @Override
    public void obtrudeException(Throwable ex) {
        throw new UnsupportedOperationException("a shared completed stage cannot be changed");
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new CompletableFuture<>();
    }
}
