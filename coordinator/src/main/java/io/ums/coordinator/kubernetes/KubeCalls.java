package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Every fabric8 call of the coordinator goes through here, and comes back as a Vert.x future on
 * the caller's context ({@code Future.fromCompletionStage(stage, context)}).
 *
 * <p>fabric8's DSL (get, list, create, patch, delete) is synchronous: those calls run on a small
 * dedicated pool of its own ({@link #THREADS} threads), not on Vert.x's worker pool, so a slow API
 * server cannot starve the other blocking work, and the pool closes with the coordinator. Where
 * fabric8 offers a {@link CompletionStage} itself (informers: {@code informOnCondition}), {@link
 * #await} bridges it directly and no thread waits.
 *
 * <p>Each call names the permissions it needs (see {@link KubePermission}); API errors become
 * MigrationExceptions with the API server's own message.
 */
final class KubeCalls {
  /** Migrations are few; this many concurrent API calls is plenty and bounds the threads we own. */
  static final int THREADS = 4;

  private final Vertx vertx;
  private final ThreadPoolExecutor executor;
  private final Set<KubePermission> used = Collections.synchronizedSet(EnumSet.noneOf(KubePermission.class));

  KubeCalls(Vertx vertx) {
    this.vertx = vertx;
    AtomicInteger threads = new AtomicInteger();
    this.executor = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        work -> {
          Thread thread = new Thread(work, "ums-kube-" + threads.incrementAndGet());
          thread.setDaemon(true);
          return thread;
        });
    executor.allowCoreThreadTimeOut(true);
  }

  /** A blocking fabric8 DSL call, run on the pool. */
  <T> Future<T> call(KubePermission permission, String what, Callable<T> work) {
    used.add(permission);
    CompletableFuture<T> stage;
    try {
      stage = CompletableFuture.supplyAsync(() -> {
        try {
          return work.call();
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new CompletionException(e);
        }
      }, executor);
    } catch (RejectedExecutionException closed) {
      return Future.failedFuture(new MigrationException(Failure.UNAVAILABLE,
          "Kubernetes API, " + what + ": the coordinator is shutting down"));
    }
    return bridge(what, stage);
  }

  /** One of fabric8's own asynchronous calls: nothing blocks while it runs. */
  <T> Future<T> await(Set<KubePermission> permissions, String what, Supplier<CompletionStage<T>> start) {
    used.addAll(permissions);
    CompletionStage<T> stage;
    try {
      stage = start.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(translate(what, e));
    }
    return bridge(what, stage);
  }

  private <T> Future<T> bridge(String what, CompletionStage<T> stage) {
    return Future.fromCompletionStage(stage, vertx.getOrCreateContext())
        .recover(failure -> Future.failedFuture(translate(what, unwrap(failure))));
  }

  /** The permissions this instance has exercised (tests compare them with the requests the API server saw). */
  Set<KubePermission> used() {
    synchronized (used) {
      return used.isEmpty() ? EnumSet.noneOf(KubePermission.class) : EnumSet.copyOf(used);
    }
  }

  /** Lets calls already running finish; new ones fail UNAVAILABLE. */
  void close() {
    executor.shutdown();
  }

  boolean closed() {
    return executor.isShutdown();
  }

  private static Throwable unwrap(Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  private static Throwable translate(String what, Throwable failure) {
    if (failure instanceof MigrationException) {
      return failure;
    }
    if (failure instanceof KubernetesClientException api) {
      Failure code =
          switch (api.getCode()) {
            case 404 -> Failure.UNKNOWN_WORKLOAD;
            case 409 -> Failure.ALREADY_MIGRATING;
            default -> Failure.PEER_FAILED;
          };
      String reason = api.getStatus() != null && api.getStatus().getMessage() != null
          ? api.getStatus().getMessage() : api.getMessage();
      return new MigrationException(code, "Kubernetes API, " + what + ": " + reason);
    }
    return failure;
  }
}
