package io.ums.coordinator.migration;

import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a lost source agent, once it answers again, the destination's verdict on a migration it lost track
 * of: an agent killed after the restore request went out keeps its copy stopped (its work dir records it)
 * until told {@code kill} (the destination restored the workload) or {@code resume} (it did not), so the
 * workload runs exactly once. Asks once a second for at most {@link #GIVE_UP_AFTER}; the outcome goes to the
 * migration's status ({@code sourceSettled}).
 */
final class StoppedSourceSettlement {
  private static final Logger LOG = LoggerFactory.getLogger(StoppedSourceSettlement.class);
  private static final Duration ASK_INTERVAL = Duration.ofSeconds(1);
  /** The record stays on the agent after this: an operator settles it with the same call. */
  static final Duration GIVE_UP_AFTER = Duration.ofHours(1);

  private final Vertx vertx;
  private final AgentClient source;
  private final String agentMigrationId;
  private final Duration requestTimeout;

  StoppedSourceSettlement(Vertx vertx, AgentClient source, String agentMigrationId, Duration requestTimeout) {
    this.vertx = vertx;
    this.source = source;
    this.agentMigrationId = agentMigrationId;
    this.requestTimeout = requestTimeout;
  }

  /** Starts asking; {@code onOutcome} gets what the agent did (or that it never answered). */
  void start(boolean destinationRestored, Handler<JsonObject> onOutcome) {
    ask(destinationRestored, onOutcome, System.nanoTime() + GIVE_UP_AFTER.toNanos());
  }

  private void ask(boolean kill, Handler<JsonObject> onOutcome, long deadline) {
    // the settling agent waits for CRIU to let go of the tree first: allow it more than a plain request
    source.settleStoppedSource(agentMigrationId, kill, requestTimeout.plusSeconds(60)).onComplete(asked -> {
      JsonObject outcome;
      if (asked.succeeded()) {
        outcome = asked.result().put("node", source.node());
      } else if (asked.cause() instanceof MigrationException answered && answered.failure() == Failure.NOT_FOUND) {
        outcome = new JsonObject().put("node", source.node()).put("outcome", "nothing held").put("why",
            "the source agent answers again and holds no stopped copy of this migration: it settled it itself"
                + " (its restore request never left, or it finished its part before it was lost)");
      } else if (System.nanoTime() > deadline) {
        outcome = new JsonObject().put("node", source.node()).put("outcome", "not settled").put("why",
            "the source agent did not answer within " + GIVE_UP_AFTER.toMinutes() + " min; it keeps its copy"
                + " stopped: POST /v1/stopped-sources/" + agentMigrationId + (kill ? "/kill" : "/resume")
                + " on it settles it");
      } else {
        vertx.setTimer(ASK_INTERVAL.toMillis(), timer -> ask(kill, onOutcome, deadline));
        return;
      }
      LOG.info("migration {}: source copy on {}: {}", agentMigrationId, source.node(), outcome.encode());
      onOutcome.handle(outcome);
    });
  }
}
