package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.kubelet.KubeletClient;
import io.ums.agent.stopped.StoppedContainers;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.Future;
import java.util.function.Function;

/**
 * The one place that chooses how a workload moves: a backend per way of moving it, the source side from
 * the workload's kind and runtime (or the request's kubelet target), the destination side from the receive
 * session's kind. A new way of moving a workload is its two classes and one line here.
 */
final class Backends {
  private Backends() {}

  /** The source backend for a workload this agent runs. */
  static Function<SourceSession, SourceBackend> source(Workload workload, boolean keep, MigrationMode mode,
                                                      MigrationDeps deps) {
    if (!WorkloadSpec.KIND_CONTAINER.equals(workload.spec().kind())) {
      return mode == MigrationMode.POST_COPY ? session -> new PostCopyProcessSource(session, workload)
          : session -> new ProcessSource(session, workload, keep);
    }
    ContainerWorkloads containers = deps.containers().orElseThrow(() -> new MigrationFailure.Exception(
        Code.INTERNAL, "container " + workload.id() + " without container support"));
    if (containers.runsOnPodman(workload.id())) {
      return session -> new PodmanSource(session, workload, keep, containers);
    }
    return mode == MigrationMode.POST_COPY ? session -> new PostCopyRuncSource(session, workload, containers)
        : session -> new RuncSource(session, workload, keep, containers);
  }

  /** The destination backend for a receive session of {@code kind} (POST /v1/receive). */
  static Function<ReceiveSession, DestinationBackend> destination(String kind, MigrationMode mode) {
    if (CriuMigrations.KIND_CHECKPOINT.equals(kind)) {
      return KubeletDestination::new;
    }
    if (WorkloadSpec.KIND_CONTAINER.equals(kind)) {
      return mode == MigrationMode.POST_COPY ? PostCopyContainerDestination::new : ContainerDestination::new;
    }
    return mode == MigrationMode.POST_COPY ? PostCopyProcessDestination::new : ProcessDestination::new;
  }

  /**
   * The source backend for a pod's container the node's kubelet checkpoints: kept stopped from its checkpoint
   * to the switch (kubelet-consistent), or copied while it runs on (kubelet-copy).
   */
  static Function<SourceSession, SourceBackend> kubeletSource(KubeletSend send, boolean keep, KubeletClient kubelet,
                                                            StoppedContainers stopped) {
    if (send.consistent()) {
      String containerId = send.containerId().orElseThrow();
      return session -> new ConsistentKubeletSource(session, new KubeletSource(session, send.target(), keep, kubelet,
          Future::succeededFuture), containerId, send.hold(), stopped);
    }
    return session -> new KubeletSource(session, send.target(), keep, kubelet, () -> send.containerId()
        .<Future<?>>map(stopped::continueCopied).orElseGet(Future::succeededFuture));
  }
}
