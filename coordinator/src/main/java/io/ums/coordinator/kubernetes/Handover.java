package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
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
  private final KubernetesClient client;
  private final KubeCalls kube;

  Handover(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  /** Deletes the source pod and, when there is one in this cluster, hands the destination pod to its owner. */
  Future<Void> replaceSource(String namespace, String sourcePod, String destinationPod) {
    return kube.call(KubePermission.PODS_GET, "get source pod " + sourcePod, () ->
            client.pods().inNamespace(namespace).withName(sourcePod).get())
        .compose(source -> kube.call(KubePermission.PODS_DELETE, "delete source pod " + sourcePod, () -> {
          client.pods().inNamespace(namespace).withName(sourcePod).delete();
          return source;
        }))
        .compose(source -> destinationPod == null ? Future.<Void>succeededFuture()
            : handOver(namespace, destinationPod, source == null || source.getMetadata().getOwnerReferences() == null
                ? List.of() : source.getMetadata().getOwnerReferences()));
  }

  /**
   * Gives the destination pod back the labels it withheld and the given ownerReferences (none: the
   * destination lives in another cluster than its source, only the labels come back).
   */
  Future<Void> handOver(String namespace, String destinationPod, List<OwnerReference> owners) {
    return kube.call(KubePermission.PODS_PATCH, "hand pod " + destinationPod + " over to its owner", () -> {
      var resource = client.pods().inNamespace(namespace).withName(destinationPod);
      Pod current = resource.get();
      if (current == null) {
        return null;
      }
      Map<String, String> withheld = DestinationPods.withheldLabels(current.getMetadata().getAnnotations());
      if (withheld.isEmpty() && owners.isEmpty()) {
        return null;
      }
      // a JSON patch (not a merge patch): explicit operations, the same on every API server
      JsonArray operations = new JsonArray();
      if (current.getMetadata().getLabels() == null) {
        operations.add(new JsonObject().put("op", "add").put("path", "/metadata/labels").put("value", new JsonObject()));
      }
      withheld.forEach((key, value) -> operations.add(new JsonObject().put("op", "add")
          .put("path", PodLock.jsonPointer("/metadata/labels/", key)).put("value", value)));
      if (!withheld.isEmpty()) {
        operations.add(new JsonObject().put("op", "remove")
            .put("path", PodLock.jsonPointer("/metadata/annotations/", PodOwner.WITHHELD_LABELS)));
      }
      if (!owners.isEmpty()) {
        operations.add(new JsonObject().put("op", "add").put("path", "/metadata/ownerReferences")
            .put("value", new JsonArray(client.getKubernetesSerialization().asJson(owners))));
      }
      resource.patch(PatchContext.of(PatchType.JSON), operations.encode());
      return null;
    });
  }
}
