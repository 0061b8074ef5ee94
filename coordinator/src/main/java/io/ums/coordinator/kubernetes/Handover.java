package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.ums.coordinator.cluster.MigrationKeys;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The end of a successful migration inside one cluster: the source pod goes, and the destination
 * pod takes its place in the owner's set.
 *
 * <p>Order matters. The source is deleted FIRST, then the destination pod gets the labels it
 * withheld (see {@link PodOwner}) and the source's ownerReferences (the controller among them).
 * Between the two steps a ReplicaSet sees one replica missing and may create a replacement; once
 * the destination is handed over the set has one pod too many and scales down, deleting
 * unscheduled, then pending, then not-ready pods first: the fresh replacement, never the Running
 * and Ready destination. The other order (hand over, then delete) would make the set scale down
 * while both exist, and it would pick the newest pod, the destination.
 */
final class Handover {
  private static final String CONSISTENT = "kubelet-consistent";
  private static final long STOPPED_GRACE_SECONDS = 1;
  private final KubernetesClient client;
  private final KubeCalls kube;

  Handover(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  /**
   * Deletes the source pod and hands the destination pod (if there is one in this cluster) to its
   * owner: the source's ownerReferences, or those recorded on the destination when the source is
   * already gone (a restarted coordinator finishing the job).
   */
  Future<Void> replaceSource(String namespace, String sourcePod, String destinationPod) {
    return kube.call(KubePermission.PODS_GET, "get source pod " + sourcePod, () ->
            client.pods().inNamespace(namespace).withName(sourcePod).get())
        .compose(source -> source == null ? Future.succeededFuture((Pod) null)
            : kube.call(KubePermission.PODS_DELETE, "delete source pod " + sourcePod, () -> {
              var pod = client.pods().inNamespace(namespace).withName(sourcePod);
              if (stoppedAtCheckpoint(source)) {
                // its container is stopped since the checkpoint: a SIGTERM stays pending, a grace period only
                // keeps the pod Terminating. The kubelet kills it itself after its 2 s minimum (SIGKILL).
                pod.withGracePeriod(STOPPED_GRACE_SECONDS).delete();
              } else {
                pod.delete();
              }
              return source;
            }))
        .compose(source -> destinationPod == null ? Future.<Void>succeededFuture()
            : settle(namespace, destinationPod, true, source == null ? null : owners(source)));
  }

  /**
   * Ends a destination pod's migration: with {@code handOver} it gets back the labels it withheld
   * and the owners ({@code owners} null: those recorded on it; empty: none, e.g. the source is in
   * another cluster); without, it stays apart from the owner (a kept copy). Either way the
   * migration markers go.
   */
  Future<Void> settle(String namespace, String destinationPod, boolean handOver, List<OwnerReference> owners) {
    return kube.call(KubePermission.PODS_PATCH, "settle pod " + destinationPod, () -> {
      var resource = client.pods().inNamespace(namespace).withName(destinationPod);
      Pod current = resource.get();
      if (current == null) {
        return null;
      }
      Map<String, String> labels = current.getMetadata().getLabels() == null ? Map.of() : current.getMetadata().getLabels();
      Map<String, String> annotations = KubernetesCluster.annotations(current);
      // a JSON patch (not a merge patch): explicit operations, the same on every API server
      JsonArray operations = new JsonArray();
      if (labels.containsKey(MigrationKeys.LABEL_DESTINATION_OF)) {
        operations.add(remove("/metadata/labels/", MigrationKeys.LABEL_DESTINATION_OF));
      }
      List<String> markers = new ArrayList<>(List.of(MigrationKeys.ANNOTATION_DESTINATION_STEP, PodOwner.SOURCE_OWNERS));
      if (handOver) {
        Map<String, String> withheld = DestinationPods.withheldLabels(annotations);
        if (labels.isEmpty() && !withheld.isEmpty()) {
          operations.add(new JsonObject().put("op", "add").put("path", "/metadata/labels").put("value", new JsonObject()));
        }
        withheld.forEach((key, value) -> operations.add(new JsonObject().put("op", "add")
            .put("path", PodLock.jsonPointer("/metadata/labels/", key)).put("value", value)));
        markers.add(PodOwner.WITHHELD_LABELS);
        List<OwnerReference> handedTo = owners != null ? owners : recordedOwners(annotations);
        if (!handedTo.isEmpty()) {
          operations.add(new JsonObject().put("op", "add").put("path", "/metadata/ownerReferences")
              .put("value", new JsonArray(client.getKubernetesSerialization().asJson(handedTo))));
        }
      }
      markers.stream().filter(annotations::containsKey)
          .forEach(key -> operations.add(remove("/metadata/annotations/", key)));
      if (!operations.isEmpty()) {
        resource.patch(PatchContext.of(PatchType.JSON), operations.encode());
      }
      return null;
    });
  }

  /** Inside one cluster: the agents finished, the source side still has to replace the source. */
  Future<Void> markCommitted(String namespace, String destinationPod) {
    return kube.call(KubePermission.PODS_PATCH, "mark pod " + destinationPod + " committed", () -> {
      client.pods().inNamespace(namespace).withName(destinationPod).patch(PatchContext.of(PatchType.JSON),
          new JsonArray().add(new JsonObject().put("op", "add")
              .put("path", PodLock.jsonPointer("/metadata/annotations/", MigrationKeys.ANNOTATION_DESTINATION_STEP))
              .put("value", MigrationKeys.STEP_COMMITTED)).encode());
      return null;
    });
  }

  /** A source moved with kubelet-consistent: its container stays stopped from its checkpoint on. */
  static boolean stoppedAtCheckpoint(Pod source) {
    return CONSISTENT.equals(KubernetesCluster.annotations(source).get(MigrationKeys.ANNOTATION_MIGRATION_INTERFACE));
  }

  private static JsonObject remove(String map, String key) {
    return new JsonObject().put("op", "remove").put("path", PodLock.jsonPointer(map, key));
  }

  private static List<OwnerReference> owners(Pod pod) {
    return pod.getMetadata().getOwnerReferences() == null ? List.of() : pod.getMetadata().getOwnerReferences();
  }

  private List<OwnerReference> recordedOwners(Map<String, String> annotations) {
    String json = annotations.get(PodOwner.SOURCE_OWNERS);
    return json == null ? List.of()
        : List.of(client.getKubernetesSerialization().unmarshal(json, OwnerReference[].class));
  }
}
