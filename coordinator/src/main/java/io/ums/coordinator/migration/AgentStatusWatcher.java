package io.ums.coordinator.migration;

import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows one migration on the source agent (GET /v1/migrations/{id}) until it ends.
 *
 * <p>Reports each status to a listener and completes with the final status (DONE), or fails:
 * ROLLED_BACK / FAILED become PEER_FAILED with the agent's reason; a phase without progress
 * (no phase change, no byte moved) for longer than the phase timeout becomes PHASE_TIMEOUT, after
 * asking the agent to abort so the source resumes; an agent unreachable for longer than the
 * timeout becomes PEER_FAILED.
 */
final class AgentStatusWatcher {
  private static final Logger LOG = LoggerFactory.getLogger(AgentStatusWatcher.class);

  private final Vertx vertx;
  private final AgentClient agent;
  private final String agentMigrationId;
  private final Duration pollInterval;
  private final Duration phaseTimeout;
  private final Consumer<JsonObject> listener;
  private final Promise<JsonObject> finalStatus = Promise.promise();
  private String phase = "";
  private long bytesSeen = -1;
  private long lastProgressAt;
  private long lastAnswerAt;

  AgentStatusWatcher(
      Vertx vertx,
      AgentClient agent,
      String agentMigrationId,
      Duration pollInterval,
      Duration phaseTimeout,
      Consumer<JsonObject> listener) {
    this.vertx = vertx;
    this.agent = agent;
    this.agentMigrationId = agentMigrationId;
    this.pollInterval = pollInterval;
    this.phaseTimeout = phaseTimeout;
    this.listener = listener;
  }

  Future<JsonObject> watch() {
    long now = System.nanoTime();
    lastProgressAt = now;
    lastAnswerAt = now;
    poll();
    return finalStatus.future();
  }

  private void poll() {
    agent
        .migration(agentMigrationId)
        .onComplete(
            ar -> {
              if (finalStatus.future().isComplete()) {
                return;
              }
              if (ar.succeeded()) {
                lastAnswerAt = System.nanoTime();
                if (handle(ar.result())) {
                  return;
                }
              } else if (elapsed(lastAnswerAt) > phaseTimeout.toNanos()) {
                finalStatus.fail(
                    new MigrationException(
                        Failure.PEER_FAILED,
                        "lost the source agent during the migration: " + ar.cause().getMessage()));
                return;
              } else {
                LOG.debug("migration {}: status poll failed: {}", agentMigrationId, ar.cause().getMessage());
              }
              if (elapsed(lastProgressAt) > phaseTimeout.toNanos()) {
                timeOut();
                return;
              }
              vertx.setTimer(pollInterval.toMillis(), t -> poll());
            });
  }

  /** Returns true when the migration has ended. */
  private boolean handle(JsonObject status) {
    String newPhase = status.getString("phase", "");
    long bytes = status.getJsonObject("bytes", new JsonObject()).getLong("raw", 0L);
    if (!newPhase.equals(phase) || bytes != bytesSeen) {
      lastProgressAt = System.nanoTime();
    }
    phase = newPhase;
    bytesSeen = bytes;
    listener.accept(status);
    switch (newPhase) {
      case "DONE" -> {
        finalStatus.complete(status);
        return true;
      }
      case "ROLLED_BACK", "FAILED" -> {
        finalStatus.fail(agentFailure(status));
        return true;
      }
      default -> {
        return false;
      }
    }
  }

  private static MigrationException agentFailure(JsonObject status) {
    JsonObject error = status.getJsonObject("error", new JsonObject());
    String code = error.getString("code", "UNKNOWN");
    String message = error.getString("message", "no reason given");
    Failure failure = code.contains("TIMEOUT") ? Failure.PHASE_TIMEOUT : Failure.PEER_FAILED;
    // a post-copy that broke says in which state it left the workload (resumed on the source, work lost)
    String outcome = status.getJsonObject("postCopy", new JsonObject()).getString("outcome");
    return new MigrationException(failure, "source agent " + status.getString("phase") + " (" + code + "): "
        + (outcome == null ? message : outcome));
  }

  private void timeOut() {
    String stuckIn = phase.isEmpty() ? "the first status" : phase;
    MigrationException timeout =
        new MigrationException(
            Failure.PHASE_TIMEOUT,
            "no progress in " + stuckIn + " for " + phaseTimeout.toMillis() + " ms; migration aborted");
    agent
        .abort(agentMigrationId)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                LOG.warn("migration {}: abort failed: {}", agentMigrationId, ar.cause().getMessage());
              }
              finalStatus.tryFail(timeout);
            });
  }

  private static long elapsed(long since) {
    return System.nanoTime() - since;
  }
}
