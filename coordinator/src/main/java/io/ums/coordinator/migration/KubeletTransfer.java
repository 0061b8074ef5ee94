package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Orchestrator level on the source side: the kubelet checkpoints one container per call, so each
 * app container of the pod goes to its own destination session, one after the other (kubelet-copy:
 * the container runs on after its checkpoint; kubelet-consistent, single-container pods: it stays
 * stopped, see {@link StoppedSource}). Answers
 * one combined final status: bytes and timings summed, each container's checkpoint image.
 */
final class KubeletTransfer {
  private static final String[] TIMINGS = {"freezeMs", "dumpMs", "transferMs", "restoreMs", "totalMs", "downtimeMs"};
  private static final String[] BYTES = {"raw", "wire", "images"};

  private final AgentClient sourceAgent;
  private final SourceWorkload workload;
  private final boolean keep;
  private final JsonObject reservation;
  private final BiConsumer<String, String> started;
  private final Function<String, Future<JsonObject>> follow;
  private final Approach approach;
  private final java.time.Duration hold;

  /**
   * @param started told (container, agent migration id) when the source agent accepted a container
   * @param follow follows one agent migration to its final DONE status (fails otherwise)
   * @param hold kubelet-consistent: how long the source agent keeps a container stopped for the switch
   */
  KubeletTransfer(AgentClient sourceAgent, SourceWorkload workload, boolean keep, JsonObject reservation,
      BiConsumer<String, String> started, Function<String, Future<JsonObject>> follow, Approach approach,
      java.time.Duration hold) {
    this.sourceAgent = sourceAgent;
    this.workload = workload;
    this.keep = keep;
    this.reservation = reservation;
    this.started = started;
    this.follow = follow;
    this.approach = approach;
    this.hold = hold;
  }

  Future<JsonObject> run() {
    try {
      StoppedSource.checkConsistent(approach, workload);
    } catch (MigrationException refused) {
      return Future.failedFuture(refused);
    }
    JsonArray sessions = reservation.getJsonArray("sessions", new JsonArray());
    if (sessions.isEmpty()) {
      return Future.failedFuture(new MigrationException(Failure.PEER_FAILED,
          "the destination coordinator reserved no checkpoint session for pod " + workload.key()));
    }
    JsonObject combined = new JsonObject()
        .put("bytes", new JsonObject()).put("timings", new JsonObject())
        .put("checkpointImages", new JsonObject()).put("containers", new JsonArray());
    Future<JsonObject> chain = Future.succeededFuture(combined);
    for (Object entry : sessions) {
      JsonObject session = (JsonObject) entry;
      chain = chain.compose(sofar -> container(session).map(status -> add(sofar, session.getString("container"), status)));
    }
    return chain;
  }

  private Future<JsonObject> container(JsonObject session) {
    String container = session.getString("container");
    JsonObject target = new JsonObject()
        .put("address", session.getString("dataAddress"))
        .put("sessionId", session.getString("sessionId"))
        .put("token", session.getString("token"))
        .put("encrypt", reservation.getBoolean("encrypt", false));
    JsonObject how = new JsonObject().put("containerId", workload.containerIds().get(container))
        .put("mode", approach == Approach.KUBELET_CONSISTENT ? "consistent" : "copy").put("holdMs", hold.toMillis());
    return sourceAgent.sendKubeletCheckpoint(workload.namespace(), workload.name(), container, how, target, keep)
        .compose(accepted -> {
          String agentMigrationId = accepted.getString("migrationId");
          if (agentMigrationId == null) {
            return Future.failedFuture(new MigrationException(Failure.PEER_FAILED,
                "source agent accepted the kubelet checkpoint of container " + container + " without a migrationId"));
          }
          started.accept(container, agentMigrationId);
          return follow.apply(agentMigrationId);
        })
        .recover(failure -> Future.failedFuture(failure instanceof MigrationException m
            ? new MigrationException(m.failure(), "container " + container + ": " + m.getMessage()) : failure))
        .compose(status -> status.getString("checkpointImage") == null
            ? Future.failedFuture(new MigrationException(Failure.PEER_FAILED, "container " + container
                + ": the agents reported DONE without a checkpointImage (agent-api.md, interface kubelet)"))
            : Future.succeededFuture(status));
  }

  private static JsonObject add(JsonObject combined, String container, JsonObject status) {
    combined.put("id", combined.getString("id", status.getString("id")));
    sum(combined.getJsonObject("bytes"), status.getJsonObject("bytes", new JsonObject()), BYTES);
    sum(combined.getJsonObject("timings"), status.getJsonObject("timings", new JsonObject()), TIMINGS);
    combined.getJsonObject("checkpointImages").put(container, status.getString("checkpointImage"));
    combined.getJsonArray("containers").add(new JsonObject().put("container", container)
        .put("agentMigrationId", status.getString("id")).put("checkpointImage", status.getString("checkpointImage")));
    return combined;
  }

  private static void sum(JsonObject into, JsonObject from, String[] fields) {
    for (String field : fields) {
      into.put(field, into.getLong(field, 0L) + from.getLong(field, 0L));
    }
  }
}
