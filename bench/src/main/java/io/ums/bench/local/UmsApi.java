package io.ums.bench.local;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The calls the bench and the demo make on a running {@link UmsCluster}: launch, migrate, remove. */
public final class UmsApi {
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration MIGRATE_TIMEOUT = Duration.ofMinutes(10);

  private final UmsCluster cluster;
  private final JsonHttp http;

  public UmsApi(UmsCluster cluster, JsonHttp http) {
    this.cluster = cluster;
    this.http = http;
  }

  /** POST /v1/workloads on the node's agent; returns the workload's id. */
  public String launch(int node, String name, List<String> command) {
    JsonObject body = new JsonObject().put("name", name).put("command", new JsonArray(List.copyOf(command)));
    JsonObject workload = (JsonObject) http.postOk(cluster.agentUrl(node) + "/v1/workloads", body, CALL_TIMEOUT)
        .json();
    return workload.getString("id");
  }

  /** POST /migrate to the coordinator (blocks until the migration is done); returns its answer. */
  public JsonObject migrate(String name, int destinationNode) {
    JsonObject body = new JsonObject()
        .put("name", name)
        .put("namespace", "default")
        .put("destinationUrl", cluster.coordinatorUrl())
        .put("destinationNode", cluster.testbed().node(destinationNode).name())
        .put("keep", false);
    Object answer = http.postOk(cluster.coordinatorUrl() + "/migrate", body, MIGRATE_TIMEOUT).json();
    if (!(answer instanceof JsonObject json)) {
      throw new JsonHttp.HttpFailure("POST /migrate answered no JSON object: " + answer);
    }
    return json;
  }

  /** Deletes every workload the node's agent knows; returns how many it removed. */
  public int removeAll(int node) {
    String agent = cluster.agentUrl(node);
    Object listed = http.getOk(agent + "/v1/workloads", CALL_TIMEOUT).json();
    int removed = 0;
    if (listed instanceof JsonArray workloads) {
      for (Object workload : workloads) {
        String id = ((JsonObject) workload).getString("id");
        if (http.delete(agent + "/v1/workloads/" + id, CALL_TIMEOUT).ok()) {
          removed++;
        }
      }
    }
    return removed;
  }

  /** The coordinator's per-phase milliseconds from a /migrate answer ({creation, checkpoint, ...}). */
  public static Map<String, Double> overhead(JsonObject migrateAnswer) {
    Map<String, Double> phases = new LinkedHashMap<>();
    JsonObject overhead = migrateAnswer.getJsonObject("overhead", new JsonObject());
    for (String key : overhead.fieldNames()) {
      if (overhead.getValue(key) instanceof Number number) {
        phases.put(key, number.doubleValue());
      }
    }
    return phases;
  }
}
