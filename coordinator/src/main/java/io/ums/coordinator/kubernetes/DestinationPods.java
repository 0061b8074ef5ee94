package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.ums.coordinator.cluster.MigrationKeys;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds the destination pod from the source pod as it LIVES in the API server — not from the
 * {@code kubectl.kubernetes.io/last-applied-configuration} annotation, which only exists for
 * objects created by {@code kubectl apply}.
 */
final class DestinationPods {
  /** What the agents name every checkpoint image (CheckpointImages.imageName in the agent). */
  static final String CHECKPOINT_IMAGE_PREFIX = "localhost/ums-checkpoint/";

  static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
  /** Volumes the API server injects (service account token); copying them would be rejected or stale. */
  private static final String INJECTED_TOKEN_VOLUME_PREFIX = "kube-api-access-";
  private static final Set<String> OUR_ANNOTATIONS =
      Set.of(MigrationKeys.ANNOTATION_MIGRATION_ID, MigrationKeys.ANNOTATION_MIGRATION_STEP,
          MigrationKeys.ANNOTATION_MIGRATION_INTERFACE, LAST_APPLIED);

  private DestinationPods() {}

  /**
   * The source pod reduced to what can be created again: no status, identity, owner, node or
   * injected parts, and without the labels its owner selects by (see {@link PodOwner}).
   */
  static Pod template(Pod live, PodOwner.Withholding withholding) {
    Pod copy = new io.fabric8.kubernetes.api.model.PodBuilder(live).build();
    ObjectMeta source = copy.getMetadata();
    ObjectMeta meta = new ObjectMeta();
    meta.setName(source.getName());
    meta.setNamespace(source.getNamespace());
    Map<String, String> annotations = new HashMap<>();
    if (withholding.withheld().isEmpty()) {
      meta.setLabels(source.getLabels() == null ? new HashMap<>() : new HashMap<>(source.getLabels()));
    } else {
      meta.setLabels(new HashMap<>(withholding.kept()));
      annotations.put(PodOwner.WITHHELD_LABELS, new JsonObject(new HashMap<>(withholding.withheld())).encode());
      // for a restarted coordinator that finds the source already deleted and must still hand this pod over
      annotations.put(PodOwner.SOURCE_OWNERS, new JsonArray(Serialization.asJson(source.getOwnerReferences())).encode());
    }
    if (source.getAnnotations() != null) {
      source.getAnnotations().forEach((k, v) -> {
        if (!OUR_ANNOTATIONS.contains(k)) {
          annotations.put(k, v);
        }
      });
    }
    meta.setAnnotations(annotations);
    copy.setMetadata(meta);
    copy.setStatus(null);
    PodSpec spec = copy.getSpec();
    spec.setNodeName(null);
    if (spec.getVolumes() != null) {
      spec.setVolumes(spec.getVolumes().stream().filter(v -> !injected(v)).toList());
    }
    if (spec.getContainers() != null) {
      spec.getContainers().forEach(c -> c.setVolumeMounts(withoutInjected(c.getVolumeMounts())));
    }
    if (spec.getInitContainers() != null) {
      spec.getInitContainers().forEach(c -> c.setVolumeMounts(withoutInjected(c.getVolumeMounts())));
    }
    return copy;
  }

  /** The labels a destination pod goes without until it is handed over (annotation {@link PodOwner#WITHHELD_LABELS}). */
  static Map<String, String> withheldLabels(Map<String, String> annotations) {
    String json = annotations == null ? null : annotations.get(PodOwner.WITHHELD_LABELS);
    Map<String, String> labels = new HashMap<>();
    if (json != null) {
      new JsonObject(json).forEach(e -> labels.put(e.getKey(), String.valueOf(e.getValue())));
    }
    return labels;
  }

  /**
   * The pod to create on the destination node; the restore entrypoint finds its migration by
   * annotation. Until the migration is settled it is marked (label with the migration id, step
   * RESERVED) so that a restarted coordinator finds it.
   */
  static Pod destination(Pod template, String podName, String node, String migrationId) {
    Pod pod = new io.fabric8.kubernetes.api.model.PodBuilder(template).build();
    String sourcePod = template.getMetadata().getNamespace() + "/" + template.getMetadata().getName();
    pod.getMetadata().setName(podName);
    pod.getMetadata().getLabels().put(MigrationKeys.LABEL_INSTANCE, podName);
    pod.getMetadata().getLabels().put(MigrationKeys.LABEL_DESTINATION_OF, migrationId);
    pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_RESTORE_FROM, migrationId);
    pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_DESTINATION_STEP, MigrationKeys.STEP_RESERVED);
    pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_SOURCE_POD, sourcePod);
    pod.getSpec().setNodeName(node);
    return pod;
  }

  /** The checkpoint images a pod restored by {@link #restored} starts its containers from (agent-api.md). */
  static List<String> checkpointImages(Pod pod) {
    return pod.getSpec().getContainers().stream().map(Container::getImage)
        .filter(image -> image != null && image.startsWith(CHECKPOINT_IMAGE_PREFIX)).toList();
  }

  /**
   * Orchestrator level: the destination pod restored by the node's runtime (CRI-O, containerd >= 2)
   * from each container's checkpoint image. The image exists only in that node's local store, so
   * the pod is pinned there and never pulls.
   */
  static Pod restored(Pod template, String podName, String node, String migrationId, Map<String, String> images) {
    Pod pod = destination(template, podName, node, migrationId);
    // the app containers go on from their checkpoints: their init containers ran on the source and must not
    // run again (a native sidecar, restartPolicy Always, is not checkpointed: it starts afresh)
    if (pod.getSpec().getInitContainers() != null) {
      pod.getSpec().setInitContainers(pod.getSpec().getInitContainers().stream()
          .filter(init -> "Always".equals(init.getRestartPolicy())).toList());
    }
    pod.getSpec().getContainers().forEach(container -> {
      String image = images.get(container.getName());
      if (image != null) {
        container.setImage(image);
        container.setImagePullPolicy("Never");
      }
    });
    return pod;
  }

  /** name-m1a2b3c4: unique per migration, a valid DNS label (at most 63 characters). */
  static String name(String sourceName, String migrationId) {
    String suffix = "-m" + migrationId.replace("-", "").substring(0, 8).toLowerCase(Locale.ROOT);
    String base = sourceName.replaceFirst("-m[0-9a-f]{8}$", "");
    int room = 63 - suffix.length();
    return (base.length() > room ? base.substring(0, room) : base) + suffix;
  }

  private static boolean injected(Volume volume) {
    return volume.getName() != null && volume.getName().startsWith(INJECTED_TOKEN_VOLUME_PREFIX);
  }

  private static List<VolumeMount> withoutInjected(List<VolumeMount> mounts) {
    return mounts == null ? null
        : mounts.stream().filter(m -> !m.getName().startsWith(INJECTED_TOKEN_VOLUME_PREFIX)).toList();
  }
}
