package io.ums.agent.migration;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Optional;

/**
 * Migration sessions on this node, both roles. The control API delegates /v1/receive, /v1/send and
 * /v1/migrations/* here; bodies and answers are the JSON of the agent API contract.
 */
public interface Migrations {
  /** Prepares a receive session: {sessionId, dataAddress, token, expiresAt}. */
  Future<JsonObject> prepareReceive(JsonObject request);

  /** Starts checkpoint-and-stream of a workload; completes with the migration id once started. */
  Future<String> startSend(JsonObject request);

  /** Completes with the final status once the migration ended (DONE, ROLLED_BACK or FAILED). */
  Future<JsonObject> awaitCompletion(String migrationId);

  Optional<JsonObject> status(String migrationId);

  Future<JsonObject> abort(String migrationId);

  /** Refuses new sessions and lets in-flight ones finish or roll back within the grace period. */
  Future<Void> drain(java.time.Duration grace);

  /** The containers held stopped for consistent pod migrations (none where migrations are unavailable). */
  default Optional<io.ums.agent.stopped.StoppedContainers> stoppedContainers() {
    return Optional.empty();
  }

  /** True while any migration is in flight. */
  boolean busy();

  /** Source workloads stopped by a migration a previous run of this agent did not finish (see StoppedSources). */
  default io.vertx.core.json.JsonArray stoppedSources() {
    return new io.vertx.core.json.JsonArray();
  }

  /** Workload id → migration id of those awaiting the destination's verdict (for the workload listing). */
  default java.util.Map<String, String> heldSources() {
    return java.util.Map.of();
  }

  /** Settles one of them: {@code kill} when the destination restored it, else resume it. */
  default Future<JsonObject> settleStoppedSource(String migrationId, boolean kill) {
    return Future.failedFuture(new io.ums.agent.error.AgentException(io.ums.agent.error.ApiError.NOT_FOUND,
        "no stopped source of migration " + migrationId + " on this agent"));
  }
}
