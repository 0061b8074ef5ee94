package io.ums.bench.protocol;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import java.util.function.Supplier;

/**
 * Two event-loop contexts, one per side, so sender and receiver of every run get their own thread
 * (a server listening from a context serves its connections on that context's event loop).
 */
record LoopbackPair(Context server, Context client) {
  static LoopbackPair create(Vertx vertx) {
    // not getOrCreateContext(): from a non-Vert.x thread it hands back the same (sticky) context every
    // time, which ran both ends of every run on one event loop and serialised TLS's encryption with
    // its decryption. createEventLoopContext() takes the next loop, round-robin.
    VertxInternal internal = (VertxInternal) vertx;
    return new LoopbackPair(internal.createEventLoopContext(), internal.createEventLoopContext());
  }

  static <T> Future<T> on(Context context, Supplier<Future<T>> action) {
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(promise));
    return promise.future();
  }
}
