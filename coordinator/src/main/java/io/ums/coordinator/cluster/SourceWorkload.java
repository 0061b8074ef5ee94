package io.ums.coordinator.cluster;

import io.vertx.core.json.JsonObject;
import java.util.Optional;

/**
 * A workload resolved to where it runs.
 *
 * @param agentWorkloadId the id the node's agent knows it by (agent-api.md "workload.id")
 * @param kind "process" or "container", as the agent reports it
 * @param runtime the agent's runtime for containers (runc, podman), or null
 * @param podTemplate Kubernetes only: the live pod, cleaned for re-creation on the destination
 */
public record SourceWorkload(
    String namespace,
    String name,
    AgentRef agent,
    String agentWorkloadId,
    String kind,
    String runtime,
    Optional<JsonObject> podTemplate) {

  public String key() {
    return namespace + "/" + name;
  }

  public String node() {
    return agent.node();
  }
}
