package io.ums.coordinator.cluster;

import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Where workloads and agents are. Two implementations: {@link LocalCluster} (a static list of
 * agents) and {@code KubernetesCluster} (pods, the agent DaemonSet, Services and Events).
 *
 * <p>The source side resolves, locks and finishes a workload; the destination side (possibly
 * another coordinator) creates and removes the destination object. All methods complete on the
 * caller's context and never block it.
 */
public interface Cluster {
  /** "local" or "kubernetes". */
  String mode();

  Future<List<AgentRef>> agents();

  /** Workloads with "migratable" and "status", for GET /list. */
  Future<JsonArray> list(String namespace);

  /**
   * Tells the cluster which migration ids this coordinator is running, so that a lock left by a
   * coordinator that died (an id nobody runs, on a workload its agent no longer migrates) can be
   * taken over instead of refusing the workload forever.
   */
  default void activeMigrations(Predicate<String> isActive) {}

  /** Fails UNKNOWN_WORKLOAD (404) when there is no such workload. */
  Future<SourceWorkload> resolve(String namespace, String name);

  /** Marks the workload as migrating (with the approach's wire name); fails ALREADY_MIGRATING (409) when it already is. */
  Future<Void> lock(SourceWorkload workload, String migrationId, String approach);

  /** Records a migration step on the workload (annotation, event); best effort. */
  Future<Void> recordStep(SourceWorkload workload, String migrationId, String step, String message);

  /**
   * After success: delete the source unless keep, release the lock. {@code destinationObject}: the
   * destination in this same cluster, which takes the source's place with its owner (Kubernetes:
   * labels and ownerReferences); empty when the destination is elsewhere.
   */
  Future<Void> finishSource(
      SourceWorkload workload, String migrationId, boolean keep, Optional<String> destinationObject);

  /**
   * After {@link #finishSource} deleted it: completes once the source is gone, its runtime having stopped what
   * ran in it (Kubernetes: the pod object is removed, which the kubelet does after it killed the containers);
   * fails PHASE_TIMEOUT after {@code timeout}.
   */
  default Future<Void> awaitSourceGone(SourceWorkload workload, Duration timeout) {
    return Future.succeededFuture();
  }

  /** After failure: the source runs again (the agent resumed it); release the lock. */
  Future<Void> unlock(SourceWorkload workload, String migrationId, String reason);

  /** Point whatever routes traffic to the source (a Service) at the destination object. */
  Future<Void> redirectTo(SourceWorkload workload, String destinationObject);

  /** Destination side: create what will host the restored workload; answers its name, if any. */
  Future<Optional<String>> createDestination(DestinationRequest request, AgentRef node);

  /**
   * Destination side, orchestrator level (kind checkpoint): create the pod from the checkpoint
   * images the destination agent built (one per container), pinned to the node, and wait until it
   * is Running and Ready; answers its name. On failure or timeout the pod is removed again and the
   * future fails (PEER_FAILED, PHASE_TIMEOUT) with what the pod showed.
   */
  default Future<String> startRestoredPod(
      DestinationRequest request, AgentRef node, Map<String, String> checkpointImages, Duration readyTimeout) {
    return Future.failedFuture(new MigrationException(Failure.INCOMPATIBLE_DESTINATION,
        "a " + mode() + " destination cannot start a pod from kubelet checkpoint images"));
  }

  /** Destination side: undo {@link #createDestination} after a failed migration. */
  Future<Void> removeDestination(String namespace, String destinationObject);

  /**
   * Destination side, at commit: the agents finished. Inside one cluster the destination object is
   * marked committed (the source side finishes it); when the source is in another cluster the
   * migration is over here, and unless the source is kept the destination stops withholding what
   * kept it apart from the source's owner (labels).
   */
  default Future<Void> commitDestination(String namespace, String destinationObject, boolean sameCluster, boolean keep) {
    return Future.succeededFuture();
  }

  /**
   * Settles what migrations run by a previous instance of this coordinator left behind (locks,
   * destination objects); answers once the first pass is done. Never fails.
   */
  default Future<Void> recover(Duration retry) {
    return Future.succeededFuture();
  }

  /** Lets go of what the cluster holds (Kubernetes: the pool its API calls run on). */
  default Future<Void> close() {
    return Future.succeededFuture();
  }
}
