package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.DestinationRequest;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.config.Defaults;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.ums.coordinator.peer.PeerClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes: a workload is a pod; its node's agent is the pod of the agent DaemonSet on that
 * node. The pod is locked with annotations (migration id and step) so a second migration is
 * refused even from another coordinator replica; every step is also a Kubernetes Event.
 */
public final class KubernetesCluster implements Cluster {
  public static final String DEFAULT_AGENT_NAMESPACE = "ums-system";
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesCluster.class);

  private static final long GONE_POLL_MS = 250;

  private final Vertx vertx;
  private final KubernetesClient client;
  private final String agentNamespace;
  private final PeerClient http;
  private final KubeCalls kube;
  private final PodLock lock;
  private final MigrationEvents events;
  private final PodReadiness readiness;
  private final PodOwner owner;
  private final Handover handover;
  private final Recovery recovery;
  /** Locks found on pods whose migration nobody runs any more: resolve() saw them, lock() takes them over. */
  private final Map<String, String> staleLocks = new HashMap<>();
  private Predicate<String> activeMigration = id -> true;

  public KubernetesCluster(Vertx vertx, KubernetesClient client, String agentNamespace, PeerClient http) {
    this.vertx = vertx;
    this.client = client;
    this.agentNamespace = agentNamespace;
    this.http = http;
    this.kube = new KubeCalls(vertx);
    this.lock = new PodLock(client, kube);
    this.events = new MigrationEvents(client, kube);
    this.readiness = new PodReadiness(client, kube);
    this.owner = new PodOwner(client, kube);
    this.handover = new Handover(client, kube);
    this.recovery = new Recovery(vertx, client, kube, lock, events, handover,
        pod -> agentOn(pod.getSpec().getNodeName()).compose(agent -> agentWorkloadOf(agent, pod)),
        pod -> agentOn(pod.getSpec().getNodeName()).compose(agent -> Future.join(containerIds(pod).values().stream()
            .map(id -> new AgentClient(http, agent.node(), agent.controlUrl())
                .settleStopped(id.replaceFirst("^[a-z0-9-]+://", ""), false)).toList()).mapEmpty()),
        (pod, retire) -> {
          List<String> images = DestinationPods.checkpointImages(pod);
          return images.isEmpty() ? Future.succeededFuture() : agentOn(pod.getSpec().getNodeName())
              .compose(agent -> {
                AgentClient node = new AgentClient(http, agent.node(), agent.controlUrl());
                return Future.all(images.stream().map(image -> retire ? node.retireCheckpointImage(image)
                    : node.discardCheckpointImage(image)).toList()).mapEmpty();
              });
        });
  }

  @Override
  public String mode() {
    return "kubernetes";
  }

  Set<KubePermission> permissionsUsed() {
    return kube.used();
  }

  @Override
  public void activeMigrations(Predicate<String> isActive) {
    this.activeMigration = isActive;
  }

  @Override
  public Future<List<AgentRef>> agents() {
    return kube.call(KubePermission.PODS_LIST, "list agent pods", () ->
        client.pods().inNamespace(agentNamespace)
            .withLabel(Defaults.AGENT_LABEL_KEY, Defaults.AGENT_LABEL_VALUE).list().getItems()
            .stream()
            .filter(KubernetesCluster::readyAgent)
            .map(KubernetesCluster::agentRef)
            .toList());
  }

  private static boolean readyAgent(Pod pod) {
    return pod.getSpec().getNodeName() != null
        && pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && pod.getStatus().getPodIP() != null;
  }

  private static AgentRef agentRef(Pod pod) {
    int port = pod.getSpec().getContainers().stream()
        .flatMap(c -> c.getPorts() == null ? java.util.stream.Stream.<ContainerPort>empty() : c.getPorts().stream())
        .filter(p -> Defaults.AGENT_CONTROL_PORT_NAME.equals(p.getName()))
        .map(ContainerPort::getContainerPort)
        .findFirst()
        .orElse(Defaults.AGENT_CONTROL_PORT);
    return new AgentRef(pod.getSpec().getNodeName(), "http://" + pod.getStatus().getPodIP() + ":" + port);
  }

  @Override
  public Future<JsonArray> list(String namespace) {
    return kube.call(KubePermission.PODS_LIST, "list pods", () -> {
      JsonArray rows = new JsonArray();
      for (Pod pod : client.pods().inNamespace(namespace).list().getItems()) {
        if (isAgent(pod)) {
          continue;
        }
        Map<String, String> annotations = annotations(pod);
        String step = annotations.get(MigrationKeys.ANNOTATION_MIGRATION_STEP);
        String phase = pod.getStatus() == null ? "Unknown" : pod.getStatus().getPhase();
        rows.add(new JsonObject()
            .put("name", pod.getMetadata().getName())
            .put("namespace", namespace)
            .put("node", pod.getSpec().getNodeName())
            .put("status", step != null ? "MIGRATING (" + step + ")" : phase)
            .put("migrationId", annotations.get(MigrationKeys.ANNOTATION_MIGRATION_ID))
            .put("migratable", step == null && "Running".equals(phase) && pod.getSpec().getNodeName() != null));
      }
      return rows;
    });
  }

  private static boolean isAgent(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels != null && Defaults.AGENT_LABEL_VALUE.equals(labels.get(Defaults.AGENT_LABEL_KEY));
  }

  static Map<String, String> annotations(Pod pod) {
    return pod.getMetadata().getAnnotations() == null ? Map.of() : pod.getMetadata().getAnnotations();
  }

  @Override
  public Future<SourceWorkload> resolve(String namespace, String name) {
    Future<Pod> pod = kube.call(KubePermission.PODS_GET, "get pod " + namespace + "/" + name, () ->
        client.pods().inNamespace(namespace).withName(name).get());
    return pod.compose(found -> {
      if (found == null) {
        throw new MigrationException(Failure.UNKNOWN_WORKLOAD, "no pod " + namespace + "/" + name);
      }
      String holder = annotations(found).get(MigrationKeys.ANNOTATION_MIGRATION_ID);
      if (holder != null && activeMigration.test(holder)) {
        throw new MigrationException(Failure.ALREADY_MIGRATING,
            "pod " + namespace + "/" + name + " is already migrating (migration " + holder + ")");
      }
      String node = found.getSpec().getNodeName();
      String phase = found.getStatus() == null ? null : found.getStatus().getPhase();
      if (node == null || !"Running".equals(phase)) {
        throw new MigrationException(Failure.NOT_MIGRATABLE,
            "pod " + namespace + "/" + name + " is " + phase + (node == null ? " and not scheduled" : ""));
      }
      return owner.withholding(found)
          .compose(withholding -> agentOn(node).compose(agent -> agentWorkload(agent, found, holder, withholding)));
    });
  }

  private Future<AgentRef> agentOn(String node) {
    return agents().map(all -> all.stream().filter(a -> a.node().equals(node)).findFirst().orElseThrow(() ->
        new MigrationException(Failure.UNAVAILABLE, "no ready UMS agent on node " + node
            + " (DaemonSet pods labelled " + Defaults.AGENT_LABEL_KEY + "=" + Defaults.AGENT_LABEL_VALUE
            + " in namespace " + agentNamespace + ")")));
  }

  /** The agent knows the pod's process tree by the pod's name ("namespace/name" or plain "name"). */
  private Future<Optional<JsonObject>> agentWorkloadOf(AgentRef agent, Pod pod) {
    String namespace = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    Set<String> names = Set.of(namespace + "/" + name, name);
    return new AgentClient(http, agent.node(), agent.controlUrl()).workloads().map(workloads ->
        workloads.stream().map(JsonObject.class::cast).filter(w -> names.contains(w.getString("name"))).findFirst());
  }

  private Future<SourceWorkload> agentWorkload(
      AgentRef agent, Pod pod, String lockHolder, PodOwner.Withholding withholding) {
    String namespace = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    return agentWorkloadOf(agent, pod).map(found -> {
      JsonObject template = new JsonObject(client.getKubernetesSerialization().asJson(DestinationPods.template(pod, withholding)));
      JsonObject workload = found.orElse(null);
      if (workload == null) {
        // not a process tree the agent runs: only its kubelet can checkpoint it (interface kubelet);
        // a lock on it is stale, the kubelet leaves the source running whatever happened
        if (lockHolder != null) {
          staleLocks.put(namespace + "/" + name, lockHolder);
        }
        return new SourceWorkload(namespace, name, agent, null, SourceWorkload.KIND_POD, null, Optional.of(template),
            containerIds(pod));
      }
      if (lockHolder != null) {
        if ("MIGRATING".equals(workload.getString("status"))) {
          throw new MigrationException(Failure.ALREADY_MIGRATING, "pod " + namespace + "/" + name
              + " is already migrating (migration " + lockHolder + ", the agent on " + agent.node() + " says so)");
        }
        staleLocks.put(namespace + "/" + name, lockHolder);
      }
      return new SourceWorkload(namespace, name, agent, workload.getString("id"),
          workload.getString("kind", "process"), workload.getString("runtime"), Optional.of(template));
    });
  }

  /** The runtime id of each running container, by name (the pod status's containerID, runtime prefix kept). */
  private static Map<String, String> containerIds(Pod pod) {
    Map<String, String> ids = new java.util.HashMap<>();
    if (pod.getStatus() != null && pod.getStatus().getContainerStatuses() != null) {
      pod.getStatus().getContainerStatuses().stream().filter(status -> status.getContainerID() != null)
          .forEach(status -> ids.put(status.getName(), status.getContainerID()));
    }
    return Map.copyOf(ids);
  }

  @Override
  public Future<Void> lock(SourceWorkload workload, String migrationId, String approach) {
    String stale = staleLocks.remove(workload.key());
    Future<Void> taken = stale == null
        ? lock.acquire(workload.namespace(), workload.name(), migrationId, approach, null)
        : takeOver(workload, migrationId, approach, stale);
    return taken.compose(locked -> events.record(workload, "MigrationStarted", "Normal",
        "migration " + migrationId + " of " + workload.key() + " from node " + workload.node()));
  }

  /**
   * A lock left by a migration nobody runs: that migration is settled first (its destination pods
   * removed, or, when the agents had already moved the workload, finished), then the lock is taken.
   */
  private Future<Void> takeOver(SourceWorkload workload, String migrationId, String approach, String stale) {
    return recovery.settle(stale, workload.namespace(), workload.name())
        .compose(outcome -> switch (outcome) {
          case DEFERRED -> Future.failedFuture(new MigrationException(Failure.ALREADY_MIGRATING, "pod "
              + workload.key() + " is already migrating (migration " + stale + ", its agent still moves it)"));
          case FINISHED -> Future.failedFuture(new MigrationException(Failure.UNKNOWN_WORKLOAD, "pod "
              + workload.key() + " had already moved: migration " + stale + " was finished instead"));
          default -> lock.acquire(workload.namespace(), workload.name(), migrationId, approach, stale);
        })
        .compose(locked -> events.record(workload, "StaleLockReclaimed", "Warning",
            "migration " + stale + " left this pod locked and nobody runs it any more; migration " + migrationId
                + " takes over"));
  }

  @Override
  public Future<Void> recover(Duration retry) {
    return recovery.run(activeMigration, retry);
  }

  @Override
  public Future<Void> recordStep(SourceWorkload workload, String migrationId, String step, String message) {
    return lock.step(workload.namespace(), workload.name(), migrationId, step)
        .recover(failure -> {
          LOG.warn("migration {}: recording step {} failed: {}", migrationId, step, failure.getMessage());
          return Future.succeededFuture();
        });
  }

  @Override
  public Future<Void> finishSource(
      SourceWorkload workload, String migrationId, boolean keep, Optional<String> destinationPod) {
    // keep: the copy stays orphaned and out of the owner's selector (its withheld labels are in an annotation)
    Future<Void> done = keep
        ? lock.release(workload.namespace(), workload.name(), migrationId).compose(released -> destinationPod
            .map(pod -> handover.settle(workload.namespace(), pod, false, List.of())).orElse(Future.succeededFuture()))
        : handover.replaceSource(workload.namespace(), workload.name(), destinationPod.orElse(null));
    return done.compose(ignored -> events.record(workload, "Migrated", "Normal",
        "migration " + migrationId + " done" + (keep ? ", source kept" : ", source pod deleted")
            + destinationPod.map(pod -> keep ? "" : ", pod " + pod + " took its place").orElse("")));
  }

  @Override
  public Future<Void> commitDestination(String namespace, String destinationObject, boolean sameCluster, boolean keep) {
    return sameCluster
        ? handover.markCommitted(namespace, destinationObject)
        : handover.settle(namespace, destinationObject, !keep, List.of());
  }

  @Override
  public Future<Void> awaitSourceGone(SourceWorkload workload, Duration timeout) {
    return awaitGone(workload, System.nanoTime() + timeout.toNanos(), timeout);
  }

  private Future<Void> awaitGone(SourceWorkload workload, long deadlineNanos, Duration timeout) {
    return kube.call(KubePermission.PODS_GET, "get source pod " + workload.name(), () ->
            client.pods().inNamespace(workload.namespace()).withName(workload.name()).get())
        .compose(pod -> {
          if (pod == null) {
            return Future.succeededFuture();
          }
          if (System.nanoTime() > deadlineNanos) {
            return Future.failedFuture(new MigrationException(Failure.PHASE_TIMEOUT, "source pod " + workload.key()
                + " still exists " + timeout.toSeconds() + " s after its deletion (its node's kubelet has not"
                + " stopped its containers)"));
          }
          return vertx.timer(GONE_POLL_MS).compose(ignored -> awaitGone(workload, deadlineNanos, timeout));
        });
  }

  @Override
  public Future<Void> unlock(SourceWorkload workload, String migrationId, String reason) {
    return lock.release(workload.namespace(), workload.name(), migrationId)
        .compose(ignored -> events.record(workload, "MigrationRolledBack", "Warning",
            "migration " + migrationId + " rolled back, source resumed: " + reason));
  }

  @Override
  public Future<Void> redirectTo(SourceWorkload workload, String destinationPod) {
    JsonObject metadata = workload.podTemplate()
        .map(t -> t.getJsonObject("metadata", new JsonObject())).orElse(new JsonObject());
    Map<String, String> sourceLabels = new HashMap<>();
    metadata.getJsonObject("labels", new JsonObject()).forEach(e -> sourceLabels.put(e.getKey(), String.valueOf(e.getValue())));
    Map<String, String> annotations = new HashMap<>();
    metadata.getJsonObject("annotations", new JsonObject()).forEach(e -> annotations.put(e.getKey(), String.valueOf(e.getValue())));
    Map<String, String> withheld = DestinationPods.withheldLabels(annotations);
    sourceLabels.putAll(withheld);
    return new ServiceRedirect(client, kube).pointAt(workload.namespace(), sourceLabels, withheld.keySet(), destinationPod)
        .compose(switched -> events.record(workload, "Redirected", "Normal",
            "services " + switched + " now select pod " + destinationPod));
  }

  @Override
  public Future<Optional<String>> createDestination(DestinationRequest request, AgentRef node) {
    String podName = DestinationPods.name(request.workloadName(), request.migrationId());
    return sourcePod(request)
        .map(source -> DestinationPods.destination(source, podName, node.node(), request.migrationId()))
        .compose(pod -> kube.call(KubePermission.PODS_CREATE, "create destination pod " + podName, () ->
            client.pods().inNamespace(request.namespace()).resource(pod).create()))
        .map(created -> Optional.of(Objects.requireNonNull(created.getMetadata().getName())));
  }

  @Override
  public Future<String> startRestoredPod(
      DestinationRequest request, AgentRef node, Map<String, String> checkpointImages, Duration readyTimeout) {
    String podName = DestinationPods.name(request.workloadName(), request.migrationId());
    String namespace = request.namespace();
    return sourcePod(request)
        .map(source -> DestinationPods.restored(source, podName, node.node(), request.migrationId(), checkpointImages))
        .compose(pod -> kube.call(KubePermission.PODS_CREATE, "create restored pod " + podName, () ->
            client.pods().inNamespace(namespace).resource(pod).create()))
        .compose(created -> readiness.awaitReady(namespace, podName, readyTimeout)
            .recover(notReady -> {
              LOG.warn("migration {}: {}; removing pod {}", request.migrationId(), notReady.getMessage(), podName);
              return removeDestination(namespace, podName).transform(removed -> Future.failedFuture(notReady));
            }))
        .map(ready -> podName);
  }

  /** The source pod's manifest the reservation carries; a body that is not one is a bad "pod" field. */
  private Future<Pod> sourcePod(DestinationRequest request) {
    if (request.podTemplate().isEmpty()) {
      return Future.failedFuture(
          MigrationException.badField("pod", "a Kubernetes destination needs the source pod's manifest"));
    }
    try {
      return Future.succeededFuture(
          client.getKubernetesSerialization().unmarshal(request.podTemplate().get().encode(), Pod.class));
    } catch (RuntimeException notAPod) {
      return Future.failedFuture(MigrationException.badField("pod", "not a pod manifest: " + notAPod.getMessage()));
    }
  }

  @Override
  public Future<Void> close() {
    kube.close();
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> removeDestination(String namespace, String destinationObject) {
    return kube.call(KubePermission.PODS_DELETE, "delete destination pod " + destinationObject, () -> {
      client.pods().inNamespace(namespace).withName(destinationObject).delete();
      return null;
    });
  }
}
