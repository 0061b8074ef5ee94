package io.ums.coordinator.cluster;

import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Optional;

/**
 * What the destination side needs to prepare for an incoming workload (the body of POST /v1/reservations).
 *
 * @param kind the agent's receive kind: process, container, or checkpoint (orchestrator level: one
 *     kubelet checkpoint archive per container, the pod is created only once the images exist)
 * @param containers checkpoint only: the pod's app containers, one receive session each
 * @param mode the agent's receive mode: stop-and-copy or post-copy
 */
public record DestinationRequest(
    String migrationId,
    String workloadName,
    String namespace,
    String kind,
    String sourceClusterId,
    String sourceNode,
    String arch,
    Optional<String> destinationNode,
    Optional<JsonObject> podTemplate,
    List<String> containers,
    String mode) {

  public static final String KIND_CHECKPOINT = "checkpoint";

  public boolean checkpoint() {
    return KIND_CHECKPOINT.equals(kind);
  }
}
