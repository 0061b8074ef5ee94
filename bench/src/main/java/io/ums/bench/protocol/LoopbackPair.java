package io.ums.bench.protocol;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.function.Supplier;

/**
 * Two event-loop contexts, one per side, so sender and receiver of every run get their own thread
 * (a server listening from a context serves its connections on that context's event loop).
 */
record LoopbackPair(Context server, Context client) {
  static LoopbackPair create(Vertx vertx) {
    // from a non-Vert.x thread each call makes a fresh event-loop context, round-robin over the loops
    return new LoopbackPair(vertx.getOrCreateContext(), vertx.getOrCreateContext());
  }

  static <T> Future<T> on(Context context, Supplier<Future<T>> action) {
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(promise));
    return promise.future();
  }
}
