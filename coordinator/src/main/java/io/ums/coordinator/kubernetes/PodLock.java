package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * The migration lock on a pod: annotations {@code ums.io/migration-id} and
 * {@code ums.io/migration-step}. Taking it is an update guarded by the pod's resourceVersion, so
 * two coordinators racing for the same pod cannot both win (the loser gets 409).
 */
final class PodLock {
  private final KubernetesClient client;
  private final KubeCalls kube;

  PodLock(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  /** Takes the lock; {@code staleHolder} (nullable) is a dead migration's lock that may be overwritten. */
  Future<Void> acquire(String namespace, String name, String migrationId, String approach, String staleHolder) {
    return kube.call(KubePermission.PODS_GET, "get pod " + name, () ->
            client.pods().inNamespace(namespace).withName(name).get())
        .compose(pod -> {
          if (pod == null) {
            throw new MigrationException(Failure.UNKNOWN_WORKLOAD, "pod " + namespace + "/" + name + " is gone");
          }
          String holder = KubernetesCluster.annotations(pod).get(MigrationKeys.ANNOTATION_MIGRATION_ID);
          if (holder != null && !holder.equals(staleHolder)) {
            throw alreadyMigrating(namespace, name, holder);
          }
          Map<String, String> annotations = new HashMap<>(KubernetesCluster.annotations(pod));
          annotations.put(MigrationKeys.ANNOTATION_MIGRATION_ID, migrationId);
          annotations.put(MigrationKeys.ANNOTATION_MIGRATION_STEP, "LOCKED");
          annotations.put(MigrationKeys.ANNOTATION_MIGRATION_INTERFACE, approach);
          pod.getMetadata().setAnnotations(annotations);
          return kube.call(KubePermission.PODS_UPDATE, "lock pod " + name, () -> {
            try {
              // update() sends the resourceVersion we read: a concurrent change makes it fail with 409
              client.pods().inNamespace(namespace).resource(pod).update();
              return null;
            } catch (KubernetesClientException e) {
              if (e.getCode() == 409) {
                throw alreadyMigrating(namespace, name, "another one, the pod changed while locking");
              }
              throw e;
            }
          });
        });
  }

  Future<Void> step(String namespace, String name, String migrationId, String step) {
    return edit(namespace, name, migrationId, annotations ->
        annotations.put(MigrationKeys.ANNOTATION_MIGRATION_STEP, step));
  }

  Future<Void> release(String namespace, String name, String migrationId) {
    return edit(namespace, name, migrationId, annotations -> {
      annotations.remove(MigrationKeys.ANNOTATION_MIGRATION_ID);
      annotations.remove(MigrationKeys.ANNOTATION_MIGRATION_STEP);
      annotations.remove(MigrationKeys.ANNOTATION_MIGRATION_INTERFACE);
    });
  }

  /**
   * Changes the annotations only while this migration holds the lock; a gone pod is nothing to do.
   * A JSON patch without resourceVersion: the kubelet updates the pod's status all the time,
   * an optimistic update here would keep failing for no reason.
   */
  private Future<Void> edit(String namespace, String name, String migrationId,
      java.util.function.Consumer<Map<String, String>> change) {
    return kube.call(KubePermission.PODS_PATCH, "annotate pod " + name, () -> {
      var resource = client.pods().inNamespace(namespace).withName(name);
      Pod current = resource.get();
      if (current == null
          || !migrationId.equals(KubernetesCluster.annotations(current).get(MigrationKeys.ANNOTATION_MIGRATION_ID))) {
        return null;
      }
      Map<String, String> before = KubernetesCluster.annotations(current);
      Map<String, String> after = new HashMap<>(before);
      change.accept(after);
      JsonArray operations = new JsonArray();
      before.keySet().stream().filter(k -> !after.containsKey(k))
          .forEach(k -> operations.add(new JsonObject().put("op", "remove").put("path", annotationPath(k))));
      after.forEach((k, v) -> {
        if (!v.equals(before.get(k))) {
          operations.add(new JsonObject().put("op", "add").put("path", annotationPath(k)).put("value", v));
        }
      });
      if (!operations.isEmpty()) {
        resource.patch(PatchContext.of(PatchType.JSON), operations.encode());
      }
      return null;
    });
  }

  /** JSON pointer to an annotation. */
  private static String annotationPath(String key) {
    return jsonPointer("/metadata/annotations/", key);
  }

  /** JSON pointer to a key of a map (labels, annotations): "/" in the key is escaped as "~1" (RFC 6901). */
  static String jsonPointer(String map, String key) {
    return map + key.replace("~", "~0").replace("/", "~1");
  }

  private static MigrationException alreadyMigrating(String namespace, String name, String holder) {
    return new MigrationException(Failure.ALREADY_MIGRATING,
        "pod " + namespace + "/" + name + " is already migrating (migration " + holder + ")");
  }
}
