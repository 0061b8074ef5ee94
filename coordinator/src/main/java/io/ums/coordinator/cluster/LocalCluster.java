package io.ums.coordinator.cluster;

import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.ums.coordinator.peer.PeerClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local mode: a static list of agents, workloads are whatever those agents run, all in namespace
 * "default". The lock is held in memory (one coordinator per set of agents), keyed by namespace and the
 * workload's own name (whether the request named it or gave its id); the agent itself also refuses a
 * second migration of the same workload (409), which covers a second coordinator.
 */
public final class LocalCluster implements Cluster {
  private static final Logger LOG = LoggerFactory.getLogger(LocalCluster.class);

  /** The one namespace of local mode (the API's default). */
  public static final String NAMESPACE = "default";

  private final List<AgentRef> agents;
  private final PeerClient http;
  private final Map<String, String> migrationByWorkload = new HashMap<>();

  public LocalCluster(List<AgentRef> agents, PeerClient http) {
    this.agents = List.copyOf(agents);
    this.http = http;
  }

  @Override
  public String mode() {
    return "local";
  }

  @Override
  public Future<List<AgentRef>> agents() {
    return Future.succeededFuture(agents);
  }

  private AgentClient client(AgentRef agent) {
    return new AgentClient(http, agent.node(), agent.controlUrl());
  }

  /** The workloads of the agents that answered, and why the others did not (node -> reason). */
  private record Survey(List<JsonObject> workloads, Map<String, String> unreachable) {}

  /** Every reachable agent's workloads, each tagged with its node; unreachable agents are logged and noted. */
  private Future<Survey> allWorkloads() {
    Map<String, String> unreachable = new java.util.concurrent.ConcurrentHashMap<>();
    List<Future<JsonArray>> perAgent =
        agents.stream()
            .map(
                agent ->
                    client(agent)
                        .workloads()
                        .map(list -> tagNode(list, agent))
                        .otherwise(
                            failure -> {
                              LOG.warn("agent {} not answering: {}", agent.node(), failure.getMessage());
                              unreachable.put(agent.node(), String.valueOf(failure.getMessage()));
                              return new JsonArray();
                            }))
            .toList();
    return Future.join(perAgent)
        .map(
            all ->
                new Survey(
                    perAgent.stream()
                        .flatMap(f -> f.result().stream())
                        .map(JsonObject.class::cast)
                        .toList(),
                    Map.copyOf(unreachable)));
  }

  private static JsonArray tagNode(JsonArray workloads, AgentRef agent) {
    JsonArray tagged = new JsonArray();
    for (Object w : workloads) {
      tagged.add(((JsonObject) w).copy().put("node", agent.node()).put("agentUrl", agent.controlUrl()));
    }
    return tagged;
  }

  /**
   * Agents have no namespaces: every workload of local mode is in {@link #NAMESPACE}, and any other
   * namespace does not exist (404) rather than silently meaning that one.
   */
  private static Future<Void> checkNamespace(String namespace) {
    if (NAMESPACE.equals(namespace)) {
      return Future.succeededFuture();
    }
    return Future.failedFuture(new MigrationException(Failure.UNKNOWN_WORKLOAD, "namespace '" + namespace
        + "' does not exist: in local mode every workload is in namespace '" + NAMESPACE + "'"));
  }

  @Override
  public Future<JsonArray> list(String namespace) {
    return checkNamespace(namespace).compose(known -> allWorkloads())
        .map(
            survey -> {
              JsonArray out = new JsonArray();
              for (JsonObject w : survey.workloads()) {
                String key = MigrationKeys.key(namespace, w.getString("name"));
                JsonObject row = w.copy().put("namespace", namespace);
                String migration = migrationByWorkload.get(key);
                if (migration != null) {
                  row.put("status", "MIGRATING").put("migratable", false).put("migrationId", migration);
                }
                out.add(row);
              }
              return out;
            });
  }

  @Override
  public Future<SourceWorkload> resolve(String namespace, String name) {
    return checkNamespace(namespace).compose(known -> allWorkloads())
        .map(
            survey -> {
              List<JsonObject> named =
                  survey.workloads().stream()
                      .filter(w -> name.equals(w.getString("name")) || name.equals(w.getString("id")))
                      .toList();
              if (named.isEmpty() && !survey.unreachable().isEmpty()) {
                // the workload may well run on an agent that did not answer: a 404 would mislead
                throw new MigrationException(
                    Failure.PEER_FAILED,
                    "no workload named '" + name + "' on the agents that answered, and "
                        + survey.unreachable().entrySet().stream()
                            .map(e -> e.getKey() + " did not: " + e.getValue())
                            .sorted()
                            .collect(java.util.stream.Collectors.joining("; ")));
              }
              if (named.isEmpty()) {
                throw new MigrationException(
                    Failure.UNKNOWN_WORKLOAD, "no workload named '" + name + "' on any of " + nodes());
              }
              JsonObject chosen =
                  named.stream()
                      .filter(w -> "RUNNING".equals(w.getString("status")))
                      .findFirst()
                      .orElse(named.get(0));
              String status = chosen.getString("status");
              if ("MIGRATING".equals(status)) {
                throw new MigrationException(
                    Failure.ALREADY_MIGRATING, "workload '" + name + "' is already migrating");
              }
              if (!"RUNNING".equals(status) || !chosen.getBoolean("migratable", true)) {
                throw new MigrationException(
                    Failure.NOT_MIGRATABLE,
                    "workload '" + name + "' is " + status + " and cannot be migrated");
              }
              AgentRef agent = new AgentRef(chosen.getString("node"), chosen.getString("agentUrl"));
              return new SourceWorkload(
                  namespace,
                  chosen.getString("name"),
                  agent,
                  chosen.getString("id"),
                  chosen.getString("kind", "process"),
                  chosen.getString("runtime"),
                  Optional.empty());
            });
  }

  private List<String> nodes() {
    return agents.stream().map(AgentRef::node).toList();
  }

  @Override
  public Future<Void> lock(SourceWorkload workload, String migrationId, String approach) {
    String holder = migrationByWorkload.putIfAbsent(workload.key(), migrationId);
    if (holder != null) {
      return Future.failedFuture(
          new MigrationException(
              Failure.ALREADY_MIGRATING,
              "workload '" + workload.name() + "' is already migrating (migration " + holder + ")"));
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> recordStep(SourceWorkload workload, String migrationId, String step, String message) {
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> finishSource(
      SourceWorkload workload, String migrationId, boolean keep, Optional<String> destinationObject) {
    // the source agent already removed the source process (or kept it running when keep)
    migrationByWorkload.remove(workload.key(), migrationId);
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> unlock(SourceWorkload workload, String migrationId, String reason) {
    migrationByWorkload.remove(workload.key(), migrationId);
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> redirectTo(SourceWorkload workload, String destinationObject) {
    return Future.succeededFuture(); // no Services in local mode; the frontman answers 301
  }

  @Override
  public Future<Optional<String>> createDestination(DestinationRequest request, AgentRef node) {
    return Future.succeededFuture(Optional.empty()); // the agent hosts the restored process itself
  }

  @Override
  public Future<Void> removeDestination(String namespace, String destinationObject) {
    return Future.succeededFuture();
  }
}
