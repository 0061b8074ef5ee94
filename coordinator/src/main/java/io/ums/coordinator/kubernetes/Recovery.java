package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.cluster.MigrationKeys;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles migrations nobody runs any more: the coordinator keeps them in memory (one replica), so
 * after a restart, or when a new migration finds a stale lock, the pods themselves tell what was
 * going on. The source pod carries the lock (migration id, step, interface); each destination pod
 * carries the migration id as a label and its step, RESERVED until the destination coordinator
 * committed (the agents finished), COMMITTED until the source coordinator replaced the source.
 *
 * <p>For one migration X:
 * <ul>
 *   <li>a COMMITTED destination: the workload lives there, finish forward (delete the source, hand
 *       the destination over to the owner);
 *   <li>no source pod locked by X any more: whatever ran ended, and a RESERVED destination never
 *       got the workload (or its source coordinator, in another cluster, will fail to commit a
 *       reservation this coordinator no longer has): remove it;
 *   <li>source locked by X through the kubelet: roll back (kubelet-copy never stopped the source;
 *       kubelet-consistent's source agent resumes the container it keeps stopped);
 *   <li>otherwise ask the source node's agent: still migrating the pod's workload: wait and look
 *       again later (the agents finish or roll back by themselves); it still has the workload: roll
 *       back (remove destinations, unlock); it has not any more: the agents moved it, finish
 *       forward if the destination is here, else unlock and warn.
 * </ul>
 */
final class Recovery {
  enum Outcome { NOTHING, ROLLED_BACK, FINISHED, DEFERRED }

  private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

  private final Vertx vertx;
  private final KubernetesClient client;
  private final KubeCalls kube;
  private final PodLock lock;
  private final MigrationEvents events;
  private final Handover handover;
  /** The source node agent's workload for a pod; empty when the agent runs none for it. */
  private final Function<Pod, Future<Optional<JsonObject>>> agentWorkload;
  /** kubelet-consistent: the source node's agent resumes the pod's container it keeps stopped, if any. */
  private final Function<Pod, Future<Void>> resumeStopped;
  /**
   * A destination pod restored from checkpoint images: its node's agent retires them ({@code true}: the pod
   * stays) or discards them ({@code false}: the pod is removed), as the commit and the release would have.
   */
  private final BiFunction<Pod, Boolean, Future<Void>> settleImages;

  Recovery(Vertx vertx, KubernetesClient client, KubeCalls kube, PodLock lock, MigrationEvents events,
      Handover handover, Function<Pod, Future<Optional<JsonObject>>> agentWorkload,
      Function<Pod, Future<Void>> resumeStopped, BiFunction<Pod, Boolean, Future<Void>> settleImages) {
    this.vertx = vertx;
    this.client = client;
    this.kube = kube;
    this.lock = lock;
    this.events = events;
    this.handover = handover;
    this.agentWorkload = agentWorkload;
    this.resumeStopped = resumeStopped;
    this.settleImages = settleImages;
  }

  /**
   * One pass over every pod of the cluster; migrations still moving at the agents are looked at
   * again every {@code retry} until settled. Never fails (problems are logged).
   */
  Future<Void> run(Predicate<String> active, Duration retry) {
    return kube.call(KubePermission.PODS_LIST, "list pods left by unfinished migrations", () ->
            client.pods().inAnyNamespace().list().getItems())
        .compose(pods -> {
          Map<String, Pod> sources = new LinkedHashMap<>();
          Map<String, List<Pod>> destinations = new LinkedHashMap<>();
          for (Pod pod : pods) {
            String locked = KubernetesCluster.annotations(pod).get(MigrationKeys.ANNOTATION_MIGRATION_ID);
            if (locked != null && !active.test(locked)) {
              sources.put(locked, pod);
            }
            String destinationOf = labels(pod).get(MigrationKeys.LABEL_DESTINATION_OF);
            if (destinationOf != null && !active.test(destinationOf)) {
              destinations.computeIfAbsent(destinationOf, id -> new ArrayList<>()).add(pod);
            }
          }
          Set<String> migrations = new LinkedHashSet<>(sources.keySet());
          migrations.addAll(destinations.keySet());
          Future<Boolean> deferred = Future.succeededFuture(false);
          for (String id : migrations) {
            deferred = deferred.compose(any -> settle(id, sources.get(id), destinations.getOrDefault(id, List.of()))
                .otherwise(failure -> {
                  LOG.warn("migration {}: recovery failed: {}", id, failure.getMessage());
                  return Outcome.DEFERRED;
                })
                .map(outcome -> any || outcome == Outcome.DEFERRED));
          }
          return deferred;
        })
        .otherwise(failure -> {
          LOG.warn("recovery: {}", failure.getMessage());
          return true;
        })
        .map(again -> {
          if (again) {
            vertx.setTimer(retry.toMillis(), timer -> run(active, retry));
          }
          return null;
        });
  }

  /** A stale lock found by a new migration of the same pod: settle migration {@code id} first. */
  Future<Outcome> settle(String id, String namespace, String sourcePod) {
    Future<Pod> source = kube.call(KubePermission.PODS_GET, "get pod " + sourcePod, () ->
        client.pods().inNamespace(namespace).withName(sourcePod).get());
    Future<List<Pod>> destinations = kube.call(KubePermission.PODS_LIST, "list destination pods of " + id, () ->
        client.pods().inAnyNamespace().withLabel(MigrationKeys.LABEL_DESTINATION_OF, id).list().getItems());
    return Future.all(source, destinations).compose(both -> {
      Pod found = source.result();
      boolean lockedById = found != null
          && id.equals(KubernetesCluster.annotations(found).get(MigrationKeys.ANNOTATION_MIGRATION_ID));
      return settle(id, lockedById ? found : null, destinations.result());
    });
  }

  private Future<Outcome> settle(String id, Pod source, List<Pod> destinations) {
    Optional<Pod> committed = destinations.stream()
        .filter(pod -> MigrationKeys.STEP_COMMITTED.equals(
            KubernetesCluster.annotations(pod).get(MigrationKeys.ANNOTATION_DESTINATION_STEP)))
        .findFirst();
    if (committed.isPresent()) {
      return finish(id, source, committed.get(), "the destination had committed");
    }
    if (source == null) {
      return destinations.isEmpty() ? Future.succeededFuture(Outcome.NOTHING)
          : remove(id, destinations).map(Outcome.ROLLED_BACK);
    }
    String via = KubernetesCluster.annotations(source).get(MigrationKeys.ANNOTATION_MIGRATION_INTERFACE);
    if (via != null && via.startsWith("kubelet")) {
      // kubelet-copy left the source running; kubelet-consistent's stopped source resumes (or its hold expires)
      return resumeStopped.apply(source).otherwiseEmpty().compose(resumed -> rollBack(id, source, destinations,
          "the kubelet's checkpoint left the source in place"));
    }
    return agentWorkload.apply(source)
        .compose(workload -> {
          if (workload.isPresent() && "MIGRATING".equals(workload.get().getString("status"))) {
            LOG.info("migration {}: the agent still migrates {}; looking again later", id, name(source));
            return Future.succeededFuture(Outcome.DEFERRED);
          }
          if (workload.isPresent()) {
            return rollBack(id, source, destinations, "the source agent still runs the workload");
          }
          if (!destinations.isEmpty()) {
            return finish(id, source, destinations.get(0), "the agents had moved the workload");
          }
          return lock.release(namespace(source), name(source), id)
              .compose(released -> events.record(namespace(source), name(source), "MigrationOrphaned", "Warning",
                  "migration " + id + " was left by a coordinator that stopped; the source agent no longer runs"
                      + " this pod's workload and the destination is in another cluster: check it there"))
              .map(Outcome.ROLLED_BACK);
        });
  }

  private Future<Outcome> rollBack(String id, Pod source, List<Pod> destinations, String why) {
    LOG.warn("migration {}: left by a stopped coordinator, rolling back ({})", id, why);
    return remove(id, destinations)
        .compose(removed -> lock.release(namespace(source), name(source), id))
        .compose(released -> events.record(namespace(source), name(source), "MigrationRolledBack", "Warning",
            "migration " + id + " was left by a coordinator that stopped; rolled back (" + why + ")"))
        .map(Outcome.ROLLED_BACK);
  }

  private Future<Outcome> finish(String id, Pod source, Pod destination, String why) {
    LOG.warn("migration {}: left by a stopped coordinator, finishing it ({})", id, why);
    String namespace = namespace(destination);
    Future<Void> done = source != null
        ? handover.replaceSource(namespace, name(source), name(destination))
        : handover.settle(namespace, name(destination), true, null);
    return done
        .compose(replaced -> settledImages(id, destination, true))
        .compose(retired -> events.record(namespace, name(destination), "MigrationRecovered", "Normal",
            "migration " + id + " was left by a coordinator that stopped; finished (" + why + ")"
                + (source != null ? ", source pod " + name(source) + " deleted" : "")))
        .map(Outcome.FINISHED);
  }

  private Future<Void> remove(String id, List<Pod> destinations) {
    List<Future<Void>> removed = destinations.stream()
        .map(pod -> kube.call(KubePermission.PODS_DELETE, "delete destination pod " + name(pod), () -> {
          LOG.warn("migration {}: removing destination pod {} that never got the workload", id, name(pod));
          client.pods().inNamespace(namespace(pod)).withName(name(pod)).delete();
          return (Void) null;
        }).compose(deleted -> settledImages(id, pod, false)))
        .toList();
    return Future.all(removed).mapEmpty();
  }

  /** Best effort: an image its agent cannot settle only costs that node disk; the log names it. */
  private Future<Void> settledImages(String id, Pod destination, boolean retire) {
    return settleImages.apply(destination, retire).recover(failure -> {
      LOG.warn("migration {}: the checkpoint images of {} stay on {}: {}", id, name(destination),
          destination.getSpec().getNodeName(), failure.getMessage());
      return Future.succeededFuture();
    });
  }

  private static Map<String, String> labels(Pod pod) {
    return pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
  }

  private static String namespace(Pod pod) {
    return pod.getMetadata().getNamespace();
  }

  private static String name(Pod pod) {
    return pod.getMetadata().getName();
  }
}
