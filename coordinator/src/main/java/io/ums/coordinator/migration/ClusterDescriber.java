package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.peer.AgentClient;
import io.ums.coordinator.peer.PeerClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Objects;

/**
 * GET /: what a source coordinator needs to know about this cluster. Each agent's /v1/info, plus
 * the cluster-wide arch, kernel and CRIU when all ready agents agree ("mixed" when they do not).
 */
public final class ClusterDescriber {
  private final String clusterId;
  private final Cluster cluster;
  private final PeerClient http;

  public ClusterDescriber(String clusterId, Cluster cluster, PeerClient http) {
    this.clusterId = clusterId;
    this.cluster = cluster;
    this.http = http;
  }

  public String clusterId() {
    return clusterId;
  }

  public AgentClient agent(AgentRef ref) {
    return new AgentClient(http, ref.node(), ref.controlUrl());
  }

  public Future<JsonObject> describe() {
    return cluster
        .agents()
        .compose(
            agents -> {
              List<Future<JsonObject>> infos = agents.stream().map(this::describeAgent).toList();
              return Future.join(infos).map(done -> summarize(infos.stream().map(Future::result).toList()));
            });
  }

  /** Never fails: an agent that does not answer is listed as not ready, with the reason. */
  Future<JsonObject> describeAgent(AgentRef ref) {
    JsonObject base = new JsonObject().put("node", ref.node()).put("url", ref.controlUrl());
    return agent(ref)
        .info()
        .map(info -> info.copy().mergeIn(base).put("ready", true))
        .otherwise(failure -> base.put("ready", false).put("problem", failure.getMessage()));
  }

  private JsonObject summarize(List<JsonObject> agents) {
    List<JsonObject> ready = agents.stream().filter(a -> a.getBoolean("ready")).toList();
    return new JsonObject()
        .put("clusterId", clusterId)
        .put("mode", cluster.mode())
        .put("arch", common(ready, "arch"))
        .put("kernel", common(ready, "kernel"))
        .put("criu", commonCriu(ready))
        .put("agents", new JsonArray(List.copyOf(agents)));
  }

  private static String common(List<JsonObject> agents, String field) {
    List<String> values = agents.stream().map(a -> a.getString(field)).distinct().toList();
    if (values.isEmpty()) {
      return null;
    }
    return values.size() == 1 ? values.get(0) : "mixed";
  }

  private static JsonObject commonCriu(List<JsonObject> agents) {
    List<JsonObject> criu =
        agents.stream().map(a -> a.getJsonObject("criu")).filter(Objects::nonNull).distinct().toList();
    if (criu.isEmpty()) {
      return null;
    }
    return criu.size() == 1 ? criu.get(0) : new JsonObject().put("version", "mixed");
  }
}
