package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Interface kubelet-consistent, the coordinator's part: the source agent keeps the pod's container stopped from
 * its checkpoint until the switch; this side settles it once the outcome is known. Rolled back, or kept (keep: a
 * copy): resumed where it stopped, with its connections; the agent's hold expiry and restart recovery resume it
 * when this word never comes. Committed (the destination pod is Ready), in this order, so no second copy can
 * ever run:
 * <ol>
 *   <li>{@link #commit}: the agent records that the container never runs again (no resume, no expiry, even
 *       after its restart), BEFORE the source pod's deletion;</li>
 *   <li>the source pod is deleted: its kubelet kills the stopped container itself, so it never restarts it
 *       (it would, from its image, if the container died while the kubelet still had the pod to run);</li>
 *   <li>{@link #end}: once the pod is gone the agent forgets the container (a kill of whatever is left).</li>
 * </ol>
 */
final class StoppedSource {
  private static final Logger LOG = LoggerFactory.getLogger(StoppedSource.class);

  private static final long RESUME_RETRY_MS = 2_000;

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

  /** Before the source pod's deletion: the agent never resumes the stopped container any more. */
  static Future<Void> commit(Approach approach, AgentClient agent, SourceWorkload workload, boolean keep) {
    if (approach != Approach.KUBELET_CONSISTENT || keep) {
      return Future.succeededFuture();
    }
    return Future.all(workload.containerIds().values().stream()
        .map(id -> agent.commitStopped(id.replaceFirst("^[a-z0-9-]+://", ""))).toList()).mapEmpty();
  }

  /**
   * After the source pod's deletion: kept, its container resumes; deleted, the agent lets go of it once the pod
   * is gone (the kubelet killed it), never before.
   */
  static Future<Void> end(Approach approach, AgentClient agent, Cluster cluster, SourceWorkload workload,
                          boolean keep, Duration timeout) {
    if (approach != Approach.KUBELET_CONSISTENT) {
      return Future.succeededFuture();
    }
    return (keep ? Future.<Void>succeededFuture() : cluster.awaitSourceGone(workload, timeout))
        .compose(gone -> settle(approach, agent, workload, !keep));
  }

  /**
   * Rolled back: resumes the stopped source, asking again while no agent of its node answers (one restarting,
   * e.g. in a rolling update of the DaemonSet: its successor, at another address, finds the container in its
   * records) until {@code within} ends; the agent's own hold expiry resumes it after that.
   */
  static Future<Void> resume(Vertx vertx, Approach approach, Cluster cluster, ClusterDescriber describer,
                             SourceWorkload workload, Duration within) {
    if (approach != Approach.KUBELET_CONSISTENT) {
      return Future.succeededFuture();
    }
    return resumeBy(vertx, approach, cluster, describer, workload, System.nanoTime() + within.toNanos(), 1);
  }

  private static Future<Void> resumeBy(Vertx vertx, Approach approach, Cluster cluster, ClusterDescriber describer,
                                       SourceWorkload workload, long deadlineNanos, int attempt) {
    return cluster.agents()
        .compose(agents -> agents.stream().filter(agent -> agent.node().equals(workload.node())).findFirst()
            .map(agent -> settle(approach, describer.agent(agent), workload, false))
            .orElseGet(() -> Future.failedFuture("no agent on node " + workload.node())))
        .recover(failure -> {
          if (System.nanoTime() > deadlineNanos
              || failure instanceof MigrationException m && m.failure().httpStatus() < 500) {
            return Future.failedFuture(failure);
          }
          LOG.info("pod {}: resuming its stopped container failed (attempt {}: {}); asking again", workload.key(),
              attempt, failure.getMessage());
          return vertx.timer(RESUME_RETRY_MS).compose(ignored -> resumeBy(vertx, approach, cluster, describer,
              workload, deadlineNanos, attempt + 1));
        });
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
