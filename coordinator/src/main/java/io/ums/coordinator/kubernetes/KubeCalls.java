package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Runs fabric8 calls off the event loop. fabric8's DSL is synchronous, so each call runs on a
 * worker via executeBlocking and its result comes back on the caller's context. Each call names
 * the permission it needs (see {@link KubePermission}); API errors become MigrationExceptions.
 */
final class KubeCalls {
  private final Vertx vertx;
  private final Set<KubePermission> used = EnumSet.noneOf(KubePermission.class);

  KubeCalls(Vertx vertx) {
    this.vertx = vertx;
  }

  <T> Future<T> call(KubePermission permission, String what, Callable<T> work) {
    used.add(permission);
    return vertx
        .<T>executeBlocking(work, false)
        .recover(failure -> Future.failedFuture(translate(what, failure)));
  }

  /** The permissions this instance has exercised (tests compare them with the declared list). */
  Set<KubePermission> used() {
    return EnumSet.copyOf(used.isEmpty() ? EnumSet.noneOf(KubePermission.class) : used);
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
