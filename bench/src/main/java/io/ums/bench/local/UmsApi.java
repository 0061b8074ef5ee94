package io.ums.bench.local;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The calls the bench and the demo make on a running {@link UmsCluster}: import, launch, migrate, remove. */
public final class UmsApi {
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration IMPORT_TIMEOUT = Duration.ofMinutes(2);
  private static final Duration MIGRATE_TIMEOUT = Duration.ofMinutes(10);

  private final UmsCluster cluster;
  private final JsonHttp http;

  public UmsApi(UmsCluster cluster, JsonHttp http) {
    this.cluster = cluster;
    this.http = http;
  }

  public UmsCluster cluster() {
    return cluster;
  }

  /** POST /v1/workloads on the node's agent; returns the workload's id. */
  public String launch(int node, String name, List<String> command) {
    JsonObject body = new JsonObject().put("name", name).put("command", new JsonArray(List.copyOf(command)));
    JsonObject workload = (JsonObject) http.postOk(cluster.agentUrl(node) + "/v1/workloads", body, CALL_TIMEOUT)
        .json();
    return workload.getString("id");
  }

  /** POST /v1/images on the node's agent: the rootfs tarball becomes a layer on top of {@code base} (or none). */
  public void importImage(int node, String name, Path rootfsTar, String base) {
    JsonObject body = new JsonObject().put("name", name).put("rootfs", rootfsTar.toAbsolutePath().toString());
    if (base != null) {
      body.put("base", base);
    }
    http.postOk(cluster.agentUrl(node) + "/v1/images", body, IMPORT_TIMEOUT);
  }

  /** POST /v1/workloads of kind container, runtime runc, on the node's agent; returns the workload's id. */
  public String launchRuncContainer(int node, String name, String image, List<String> command) {
    JsonObject body = new JsonObject().put("name", name).put("kind", "container").put("runtime", "runc")
        .put("image", image).put("command", new JsonArray(List.copyOf(command)));
    JsonObject workload = (JsonObject) http.postOk(cluster.agentUrl(node) + "/v1/workloads", body, CALL_TIMEOUT)
        .json();
    return workload.getString("id");
  }

  /** POST /migrate to the coordinator (blocks until the migration is done); returns its answer. */
  public JsonObject migrate(String name, int destinationNode) {
    return migrate(name, destinationNode, Optional.empty());
  }

  /** As {@link #migrate(String, int)}, with the coordinator's "interface" (ff, runc, pind) forced when given. */
  public JsonObject migrate(String name, int destinationNode, Optional<String> approach) {
    return migrate(name, destinationNode, approach, "stop-and-copy");
  }

  /** As {@link #migrate(String, int, Optional)}, with the coordinator's "mode" (stop-and-copy, post-copy, auto). */
  public JsonObject migrate(String name, int destinationNode, Optional<String> approach, String mode) {
    JsonObject body = new JsonObject()
        .put("name", name)
        .put("namespace", "default")
        .put("destinationUrl", cluster.coordinatorUrl())
        .put("destinationNode", cluster.testbed().node(destinationNode).name())
        .put("keep", false)
        .put("mode", mode);
    approach.ifPresent(wireName -> body.put("interface", wireName));
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

  /**
   * The coordinator's per-phase milliseconds from a /migrate answer ({creation, checkpoint, ...}); the layer
   * byte counts it also carries are not phases and stay out.
   */
  public static Map<String, Double> overhead(JsonObject migrateAnswer) {
    Map<String, Double> phases = new LinkedHashMap<>();
    JsonObject overhead = migrateAnswer.getJsonObject("overhead", new JsonObject());
    for (String key : overhead.fieldNames()) {
      if (overhead.getValue(key) instanceof Number number && !key.startsWith("layerBytes")) {
        phases.put(key, number.doubleValue());
      }
    }
    return phases;
  }
}
