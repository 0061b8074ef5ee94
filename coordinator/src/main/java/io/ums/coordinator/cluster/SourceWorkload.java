package io.ums.coordinator.cluster;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A workload resolved to where it runs.
 *
 * @param agentWorkloadId the id the node's agent knows it by (agent-api.md "workload.id"); null for
 *     a pod the agent does not run itself (kind {@link #KIND_POD})
 * @param kind "process" or "container", as the agent reports it, or {@link #KIND_POD}
 * @param runtime the agent's runtime for containers (runc, podman), or null
 * @param podTemplate Kubernetes only: the live pod, cleaned for re-creation on the destination
 * @param containerIds Kubernetes only: the runtime id of each container by name, from the pod's status
 */
public record SourceWorkload(
    String namespace,
    String name,
    AgentRef agent,
    String agentWorkloadId,
    String kind,
    String runtime,
    Optional<JsonObject> podTemplate,
    Map<String, String> containerIds) {

  public SourceWorkload(String namespace, String name, AgentRef agent, String agentWorkloadId, String kind,
      String runtime, Optional<JsonObject> podTemplate) {
    this(namespace, name, agent, agentWorkloadId, kind, runtime, podTemplate, Map.of());
  }

  /** Kubernetes: a pod whose containers only the kubelet can checkpoint (no agent workload for it). */
  public static final String KIND_POD = "pod";

  public String key() {
    return namespace + "/" + name;
  }

  public String node() {
    return agent.node();
  }

  /** Kubernetes: the pod's app containers (what the kubelet checkpoints, one by one), in spec order. */
  public List<String> containers() {
    return podTemplate
        .map(pod -> pod.getJsonObject("spec", new JsonObject()).getJsonArray("containers", new JsonArray()))
        .map(list -> list.stream().map(c -> ((JsonObject) c).getString("name")).toList())
        .orElse(List.of());
  }
}
