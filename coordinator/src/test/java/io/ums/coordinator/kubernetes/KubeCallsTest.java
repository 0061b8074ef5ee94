package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The bridge between fabric8's blocking DSL / CompletableFutures and the caller's Vert.x context. */
class KubeCallsTest {
  private final Vertx vertx = Vertx.vertx();
  private final KubeCalls kube = new KubeCalls(vertx);

  @AfterEach
  void stop() {
    kube.close();
    vertx.close().await();
  }

  private record Seen(String workThread, boolean backOnCaller) {}

  @Test
  void blockingCallsRunOnTheKubePoolAndAnswerOnTheCallersContext() {
    Context caller = vertx.getOrCreateContext();
    Promise<Seen> seen = Promise.promise();
    caller.runOnContext(v -> kube.call(KubePermission.PODS_GET, "get pod", () -> Thread.currentThread().getName())
        .onComplete(ar -> seen.complete(new Seen(ar.result(), Vertx.currentContext() == caller))));

    Seen result = seen.future().await();
    assertThat(result.workThread()).startsWith("ums-kube-");
    assertThat(result.backOnCaller()).isTrue();
    assertThat(kube.used()).containsExactly(KubePermission.PODS_GET);
  }

  @Test
  void fabric8sOwnFuturesAreBridgedWithoutAThreadAndFailuresKeepTheirCode() {
    CompletableFuture<String> informer = new CompletableFuture<>();
    Future<String> bridged = kube.await(Set.of(KubePermission.PODS_WATCH), "watch pod", () -> informer);
    informer.completeExceptionally(new MigrationException(Failure.PHASE_TIMEOUT, "pod never ready"));

    Throwable failure = bridged.transform(Future::succeededFuture).await().cause();
    assertThat(failure).isInstanceOf(MigrationException.class).hasMessage("pod never ready");
  }

  @Test
  void afterCloseCallsFailAsUnavailableInsteadOfHanging() {
    kube.close();
    Throwable failure = kube.call(KubePermission.PODS_LIST, "list pods", () -> "never")
        .transform(Future::succeededFuture).await().cause();
    assertThat(failure).isInstanceOf(MigrationException.class);
    assertThat(((MigrationException) failure).failure()).isEqualTo(Failure.UNAVAILABLE);
  }
}
