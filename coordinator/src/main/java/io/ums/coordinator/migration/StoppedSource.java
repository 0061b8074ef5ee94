package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Interface kubelet-consistent, the coordinator's part: the source agent keeps the pod's container stopped from
 * its checkpoint until the switch; this side settles it once the outcome is known. Committed (the destination
 * pod is Ready, the source pod deleted): killed, so it never runs again. Rolled back, or kept (keep: a copy):
 * resumed where it stopped, with its connections. The agent's hold expiry and restart recovery resume it when
 * this word never comes.
 */
final class StoppedSource {
  private static final Logger LOG = LoggerFactory.getLogger(StoppedSource.class);

  private StoppedSource() {}

  /** How long the agent keeps the container stopped for the switch: longer than the destination pod may take. */
  static Duration hold(MigrationSettings settings) {
    return settings.phaseTimeout().multipliedBy(2).plus(Duration.ofMinutes(1));
  }

  /**
   * Refuses (409) what the consistent way cannot move: the kubelet checkpoints one container per call, so the
   * containers of a multi-container pod would stop at different moments; a container without a runtime id in
   * the pod's status (not running) cannot be found on its node.
   */
  static void checkConsistent(Approach approach, SourceWorkload workload) {
    if (approach != Approach.KUBELET_CONSISTENT) {
      return;
    }
    List<String> containers = workload.containers();
    if (containers.size() > 1) {
      throw new MigrationException(Failure.NOT_MIGRATABLE, "interface kubelet-consistent moves single-container"
          + " pods: the kubelet checkpoints one container per call, so the containers " + containers + " of pod "
          + workload.key() + " would stop at different moments; interface kubelet-copy copies them one by one");
    }
    for (String container : containers) {
      if (!workload.containerIds().containsKey(container)) {
        throw new MigrationException(Failure.NOT_MIGRATABLE, "container " + container + " of pod " + workload.key()
            + " has no containerID in the pod's status (not running?): interface kubelet-consistent holds it by"
            + " that id");
      }
    }
  }

  /** Kills ({@code kill}) or resumes every container the source agent keeps stopped for this pod. */
  static Future<Void> settle(Approach approach, AgentClient agent, SourceWorkload workload, boolean kill) {
    if (approach != Approach.KUBELET_CONSISTENT) {
      return Future.succeededFuture();
    }
    List<Future<JsonObject>> settled = workload.containerIds().values().stream()
        .map(id -> agent.settleStopped(id.replaceFirst("^[a-z0-9-]+://", ""), kill)
            .recover(failure -> {
              if (failure instanceof MigrationException m && m.failure() == Failure.NOT_FOUND) {
                return Future.succeededFuture(new JsonObject()); // never stopped, or settled already
              }
              LOG.warn("pod {}: {} its stopped container {} failed: {}", workload.key(), kill ? "killing" : "resuming",
                  id, failure.getMessage());
              return Future.failedFuture(failure);
            }))
        .toList();
    return Future.all(settled).mapEmpty();
  }

  /**
   * kubelet-consistent: the container stopped at its checkpoint (the agent's freezeMs runs from then to the
   * destination's import) and stays stopped until the destination pod is Ready (podStart); other ways report
   * the agent's own downtime.
   */
  static long downtime(Approach approach, JsonObject timings, long podStartMs) {
    return approach == Approach.KUBELET_CONSISTENT ? timings.getLong("freezeMs", 0L) + podStartMs
        : timings.getLong("downtimeMs", 0L);
  }
}
