package io.ums.agent.api;

import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The workload object of the agent API. */
public final class WorkloadJson {
  private WorkloadJson() {}

  public static JsonObject of(Workload workload, String node) {
    return new JsonObject()
        .put("id", workload.id())
        .put("name", workload.spec().name())
        .put("kind", workload.spec().kind())
        .put("runtime", workload.spec().runtime())
        .put("image", workload.spec().image())
        .put("command", new JsonArray(workload.spec().command()))
        .put("user", workload.spec().user().orElse(null))
        .put("pid", workload.pid())
        .put("status", workload.status().name())
        .put("migratable", workload.status() == WorkloadStatus.RUNNING)
        .put("node", node)
        .put("createdAt", workload.createdAt().toString())
        .put("restoredFrom", workload.restoredFrom());
  }
}
