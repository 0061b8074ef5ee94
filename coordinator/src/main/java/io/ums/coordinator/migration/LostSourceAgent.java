package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.migration.AgentStatusWatcher.LostAgent;
import io.ums.coordinator.peer.AgentClient;
import io.ums.coordinator.peer.CoordinatorClient;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source agent was lost mid-migration (killed, or drained and exited before we saw the end). What
 * happened is asked, once a second, of those who can tell: the source agent, should it answer again (a
 * draining or restarted agent that still knows the migration has the last word), and the destination
 * coordinator, whose agent knows whether it restored the workload ({@code GET /v1/reservations/{id}}).
 * <ul>
 *   <li>restored (every session DONE): the migration succeeded; the final status says the source was lost;</li>
 *   <li>not restored (a session failed, or never got data): 502 naming the lost agent, stating that nothing
 *       runs at the destination and what is known of the copy on the source node;</li>
 *   <li>neither within the phase timeout: 504, saying it is not known which node runs the workload.</li>
 * </ul>
 */
final class LostSourceAgent {
  private static final Logger LOG = LoggerFactory.getLogger(LostSourceAgent.class);
  private static final Duration ASK_INTERVAL = Duration.ofSeconds(1);
  private static final Set<String> NOT_RESTORED = Set.of("PREPARING", "ROLLED_BACK", "FAILED");

  private final Vertx vertx;
  private final AgentClient source;
  private final SourceWorkload workload;
  private final String agentMigrationId;
  private final CoordinatorClient destination;
  private final JsonObject reservation;
  private final MigrationSettings settings;
  private final Handler<JsonObject> onSourceSettled;

  /** {@code onSourceSettled}: what the source agent, once back, did with its copy (see {@link StoppedSourceSettlement}). */
  LostSourceAgent(Vertx vertx, AgentClient source, SourceWorkload workload, String agentMigrationId,
                  CoordinatorClient destination, JsonObject reservation, MigrationSettings settings,
                  Handler<JsonObject> onSourceSettled) {
    this.onSourceSettled = onSourceSettled;
    this.vertx = vertx;
    this.source = source;
    this.workload = workload;
    this.agentMigrationId = agentMigrationId;
    this.destination = destination;
    this.reservation = reservation;
    this.settings = settings;
  }

  /** Completes with a DONE status when the workload runs at the destination; fails otherwise. */
  Future<JsonObject> settle(LostAgent lost) {
    Promise<JsonObject> settled = Promise.promise();
    ask(lost, settled, System.nanoTime() + settings.phaseTimeout().toNanos());
    return settled.future();
  }

  private void ask(LostAgent lost, Promise<JsonObject> settled, long deadline) {
    Future<JsonObject> sourceSays = source.migration(agentMigrationId, settings.agentLossTimeout());
    Future<JsonObject> destinationSays = destination.reservation(reservation.getString("reservationId"));
    Future.join(sourceSays, destinationSays).onComplete(asked -> {
      String sourcePhase = sourceSays.succeeded() ? sourceSays.result().getString("phase", "") : "";
      if (sourcePhase.equals("DONE")) {
        settled.complete(sourceSays.result());
      } else if (sourcePhase.equals("ROLLED_BACK") || sourcePhase.equals("FAILED")) {
        settled.fail(AgentStatusWatcher.agentFailure(sourceSays.result()));
      } else if (destinationSays.succeeded() && restored(destinationSays.result())) {
        LOG.warn("migration {}: source agent {} lost, but the destination restored {}", agentMigrationId,
            source.node(), workload.key());
        settleSourceCopy(true);
        settled.complete(doneWithoutTheSource(lost, destinationSays.result()));
      } else if (destinationSays.succeeded() && notRestored(destinationSays.result())) {
        settleSourceCopy(false);
        sourceCopy().onComplete(copy -> settled.fail(new MigrationException(Failure.PEER_FAILED,
            lostAgent(lost) + "; the destination node " + reservation.getString("node") + " did not restore "
                + workload.key() + " (" + sessions(destinationSays.result()) + "), so nothing runs there. "
                + copy.result())));
      } else if (System.nanoTime() > deadline) {
        settled.fail(new MigrationException(Failure.PHASE_TIMEOUT, lostAgent(lost) + "; after "
            + settings.phaseTimeout().toSeconds() + " s the destination still does not say whether it restored "
            + workload.key() + " (" + (destinationSays.succeeded() ? sessions(destinationSays.result())
                : destinationSays.cause().getMessage()) + "): check nodes " + workload.node() + " and "
            + reservation.getString("node")));
      } else {
        vertx.setTimer(ASK_INTERVAL.toMillis(), timer -> ask(lost, settled, deadline));
      }
    });
  }

  /** The verdict goes to the source agent once it answers again: it may hold its copy stopped until then. */
  private void settleSourceCopy(boolean destinationRestored) {
    new StoppedSourceSettlement(vertx, source, agentMigrationId, settings.agentLossTimeout())
        .start(destinationRestored, onSourceSettled);
  }

  private String lostAgent(LostAgent lost) {
    return "lost the source agent on node " + workload.node() + " during " + lost.lastPhase() + " (" + lost.why() + ")";
  }

  private static List<JsonObject> sessionList(JsonObject state) {
    return state.getJsonArray("sessions", new JsonArray()).stream().map(JsonObject.class::cast).toList();
  }

  private static boolean restored(JsonObject state) {
    List<JsonObject> sessions = sessionList(state);
    return !sessions.isEmpty() && sessions.stream().allMatch(s -> "DONE".equals(s.getString("phase")));
  }

  /** A session that failed, or still waits for data it can no longer get from a dead source. */
  private static boolean notRestored(JsonObject state) {
    return sessionList(state).stream().anyMatch(s -> NOT_RESTORED.contains(s.getString("phase")));
  }

  private static String sessions(JsonObject state) {
    return sessionList(state).stream().map(s -> "session " + s.getString("phase")
        + (s.getJsonObject("error") == null ? "" : ": " + s.getJsonObject("error").getString("message", "")))
        .collect(Collectors.joining("; "));
  }

  /** What the source node's agent, if it answers again, says of the workload's copy there. */
  private Future<String> sourceCopy() {
    String where = "On node " + workload.node() + " ";
    return source.workload(workload.agentWorkloadId(), settings.agentLossTimeout())
        .map(listed -> where + "its agent answers again and lists " + workload.key() + " as "
            + listed.getString("status") + ".")
        .otherwise(failure -> failure instanceof MigrationException answered
            && answered.failure() == Failure.NOT_FOUND
            ? where + "its agent answers again but no longer lists " + workload.key() + ": check the node."
            : where + "its agent does not answer, so the state of the copy there is not known until the agent"
                + " is back: the source was not removed (that happens only after a restore), so it runs there,"
                + " or stays frozen if the checkpoint froze it and nothing resumed it.")
        .map(text -> text + " The coordinator tells the source agent, once it answers, to resume a copy it holds"
            + " stopped; the migration's sourceSettled says what it did.");
  }

  /** The final status: the last one the source gave, DONE, with the restored workload's id and why it is ours. */
  private JsonObject doneWithoutTheSource(LostAgent lost, JsonObject state) {
    JsonObject status = lost.lastStatus().copy().put("phase", "DONE").put("id", agentMigrationId);
    sessionList(state).stream().map(s -> s.getString("destinationWorkloadId")).filter(id -> id != null)
        .findFirst().ifPresent(id -> status.put("destinationWorkloadId", id));
    return status.put("sourceLost", lostAgent(lost) + "; the destination reports " + workload.key()
        + " restored, but the source agent did not confirm it removed its copy; the coordinator tells it, once it"
        + " answers, to kill a copy it holds stopped (the migration's sourceSettled says what it did)");
  }
}
