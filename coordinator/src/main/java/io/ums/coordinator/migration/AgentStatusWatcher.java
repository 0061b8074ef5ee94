package io.ums.coordinator.migration;

import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows one migration on the source agent (GET /v1/migrations/{id}) until it ends.
 *
 * <p>Reports each status to a listener and completes with the final status (DONE), or fails:
 * ROLLED_BACK / FAILED become PEER_FAILED with the agent's reason; a phase without progress
 * (no phase change, no byte moved) for longer than the phase timeout becomes PHASE_TIMEOUT, after
 * asking the agent to abort so the source resumes. The agent not answering for the agent-loss timeout
 * (its connection refused or closed: it was killed, or drained and exited) or answering that it does not
 * know the migration (it restarted) is lost: what happened is then left to {@code onLost}, which asks
 * whoever can tell and completes this watch with the real outcome.
 */
final class AgentStatusWatcher {
  private static final Logger LOG = LoggerFactory.getLogger(AgentStatusWatcher.class);

  private final Vertx vertx;
  private final AgentClient agent;
  private final String agentMigrationId;
  private final MigrationSettings settings;
  private final Consumer<JsonObject> listener;
  private final Function<LostAgent, Future<JsonObject>> onLost;
  private final Promise<JsonObject> finalStatus = Promise.promise();
  private String phase = "";
  private JsonObject lastStatus = new JsonObject();
  private long bytesSeen = -1;
  private long lastProgressAt;
  private long lastAnswerAt;

  /** The source agent is gone: why we think so, and the last status it gave. */
  record LostAgent(String why, JsonObject lastStatus) {
    String lastPhase() {
      return lastStatus.getString("phase", "its first status");
    }
  }

  AgentStatusWatcher(Vertx vertx, AgentClient agent, String agentMigrationId, MigrationSettings settings,
                     Consumer<JsonObject> listener, Function<LostAgent, Future<JsonObject>> onLost) {
    this.vertx = vertx;
    this.agent = agent;
    this.agentMigrationId = agentMigrationId;
    this.settings = settings;
    this.listener = listener;
    this.onLost = onLost;
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
        .migration(agentMigrationId, settings.agentLossTimeout())
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
              } else if (ar.cause() instanceof MigrationException answered && answered.failure() == Failure.NOT_FOUND) {
                lost("agent " + agent.node() + " answers that it does not know migration " + agentMigrationId
                    + " (it restarted)");
                return;
              } else if (elapsed(lastAnswerAt) >= settings.agentLossTimeout().toNanos()) {
                lost("agent " + agent.node() + " has not answered for " + elapsed(lastAnswerAt) / 1_000_000 + " ms: "
                    + ar.cause().getMessage());
                return;
              } else {
                LOG.debug("migration {}: status poll failed: {}", agentMigrationId, ar.cause().getMessage());
              }
              if (elapsed(lastProgressAt) > settings.phaseTimeout().toNanos()) {
                timeOut();
                return;
              }
              vertx.setTimer(settings.pollInterval().toMillis(), t -> poll());
            });
  }

  private void lost(String why) {
    LostAgent lost = new LostAgent(why, lastStatus);
    LOG.warn("migration {}: lost the source agent during {}: {}", agentMigrationId, lost.lastPhase(), why);
    onLost.apply(lost).onComplete(ar -> {
      if (ar.succeeded()) {
        finalStatus.tryComplete(ar.result());
      } else {
        finalStatus.tryFail(ar.cause());
      }
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
    lastStatus = status;
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

  static MigrationException agentFailure(JsonObject status) {
    JsonObject error = status.getJsonObject("error", new JsonObject());
    String code = error.getString("code", "UNKNOWN");
    String message = error.getString("message", "no reason given");
    Failure failure = code.contains("TIMEOUT") ? Failure.PHASE_TIMEOUT : Failure.PEER_FAILED;
    return new MigrationException(
        failure, "source agent " + status.getString("phase") + " (" + code + "): " + message);
  }

  private void timeOut() {
    String stuckIn = phase.isEmpty() ? "the first status" : phase;
    MigrationException timeout =
        new MigrationException(
            Failure.PHASE_TIMEOUT,
            "no progress in " + stuckIn + " for " + settings.phaseTimeout().toMillis() + " ms; migration aborted");
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
