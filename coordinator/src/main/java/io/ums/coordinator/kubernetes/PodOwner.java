package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ReplicationController;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller that owns a pod, and which of the pod's labels the destination pod must go
 * without while the migration runs.
 *
 * <p>A destination pod matching its owner's selector before the source is gone would be adopted
 * as an extra replica, and the owner scales down one pod of the set: a ReplicaSet deletes the
 * newest and not-ready ones first, i.e. precisely the destination. So the destination pod is
 * created without the labels the selector looks at (recorded in {@link #WITHHELD_LABELS}) and
 * without ownerReferences; {@code KubernetesCluster.finishSource} gives them back after deleting
 * the source.
 *
 * <p>StatefulSet and DaemonSet pods are refused: a StatefulSet pod's identity (its name, stable
 * network id, volume claims) is bound to its ordinal name, which the destination cannot carry
 * while the source exists, and the StatefulSet recreates that very name; a DaemonSet runs exactly
 * one pod per node and would neither adopt a second one nor let the source go. Other controllers
 * (Job, custom ones) are refused too: their selectors and replacement rules are not known here.
 */
final class PodOwner {
  /** On the destination pod: the labels withheld from it (JSON object), until it is handed to the owner. */
  static final String WITHHELD_LABELS = "ums.io/withheld-labels";
  /** On the destination pod while migrating: the source's ownerReferences (JSON array), handed over at the end. */
  static final String SOURCE_OWNERS = "ums.io/source-owners";

  /** The owner's selector split the pod's labels into those kept and those withheld on the destination. */
  record Withholding(Map<String, String> kept, Map<String, String> withheld) {
    static final Withholding NONE = new Withholding(Map.of(), Map.of());
  }

  private final KubernetesClient client;
  private final KubeCalls kube;

  PodOwner(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  static Optional<OwnerReference> controller(Pod pod) {
    List<OwnerReference> owners = pod.getMetadata().getOwnerReferences();
    return owners == null ? Optional.empty()
        : owners.stream().filter(o -> Boolean.TRUE.equals(o.getController())).findFirst();
  }

  /** Which labels the destination pod must withhold; fails NOT_MIGRATABLE for owners we cannot hand a pod to. */
  Future<Withholding> withholding(Pod pod) {
    Optional<OwnerReference> owner = controller(pod);
    if (owner.isEmpty()) {
      return Future.succeededFuture(Withholding.NONE);
    }
    String namespace = pod.getMetadata().getNamespace();
    String what = "pod " + namespace + "/" + pod.getMetadata().getName() + " is owned by " + owner.get().getKind()
        + " " + owner.get().getName();
    Future<LabelSelector> selector = switch (owner.get().getKind()) {
      case "ReplicaSet" -> kube.call(KubePermission.REPLICASETS_GET, "get replicaset " + owner.get().getName(), () -> {
        ReplicaSet set = client.apps().replicaSets().inNamespace(namespace).withName(owner.get().getName()).get();
        return set == null || set.getSpec() == null ? null : set.getSpec().getSelector();
      });
      case "ReplicationController" -> kube.call(KubePermission.REPLICATIONCONTROLLERS_GET,
          "get replicationcontroller " + owner.get().getName(), () -> {
            ReplicationController set =
                client.replicationControllers().inNamespace(namespace).withName(owner.get().getName()).get();
            return set == null || set.getSpec() == null ? null
                : new LabelSelector(List.of(), set.getSpec().getSelector());
          });
      case "StatefulSet" -> Future.failedFuture(refused(what + ": a StatefulSet pod's identity (name, stable network"
          + " id, volume claims) is bound to its name, which the StatefulSet recreates; it cannot move as a copy"));
      case "DaemonSet" -> Future.failedFuture(refused(what + ": a DaemonSet runs exactly one pod per node, a copy on"
          + " another node is not its pod and the source would be recreated"));
      default -> Future.failedFuture(refused(what + ": only pods of a ReplicaSet (Deployment), a"
          + " ReplicationController, or no controller can be handed over"));
    };
    return selector.map(found -> {
      if (found == null) {
        throw refused(what + ", which is gone (the pod is being garbage collected)");
      }
      return split(found, labels(pod), what);
    });
  }

  /**
   * Withholds every label the selector names with a positive requirement (matchLabels, In, Exists):
   * without it the selector cannot match. NotIn / DoesNotExist cannot be defeated by removing labels,
   * so if what is left still matches, the pod is refused rather than risk an adoption.
   */
  static Withholding split(LabelSelector selector, Map<String, String> labels, String what) {
    Set<String> keys = new HashSet<>();
    if (selector.getMatchLabels() != null) {
      keys.addAll(selector.getMatchLabels().keySet());
    }
    if (selector.getMatchExpressions() != null) {
      selector.getMatchExpressions().stream()
          .filter(r -> "In".equals(r.getOperator()) || "Exists".equals(r.getOperator()))
          .forEach(r -> keys.add(r.getKey()));
    }
    Map<String, String> kept = new HashMap<>();
    Map<String, String> withheld = new HashMap<>();
    labels.forEach((k, v) -> (keys.contains(k) ? withheld : kept).put(k, v));
    if (matches(selector, kept)) {
      throw refused(what + ", whose selector would still match the destination pod without those labels");
    }
    return new Withholding(kept, withheld);
  }

  /** Kubernetes label selector semantics (an empty selector matches everything). */
  static boolean matches(LabelSelector selector, Map<String, String> labels) {
    if (selector.getMatchLabels() != null
        && !selector.getMatchLabels().entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())))) {
      return false;
    }
    List<LabelSelectorRequirement> requirements =
        selector.getMatchExpressions() == null ? List.of() : selector.getMatchExpressions();
    return requirements.stream().allMatch(r -> {
      String value = labels.get(r.getKey());
      List<String> values = r.getValues() == null ? List.of() : r.getValues();
      return switch (r.getOperator()) {
        case "In" -> value != null && values.contains(value);
        case "NotIn" -> value == null || !values.contains(value);
        case "Exists" -> value != null;
        case "DoesNotExist" -> value == null;
        default -> false;
      };
    });
  }

  private static Map<String, String> labels(Pod pod) {
    return pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
  }

  private static MigrationException refused(String why) {
    return new MigrationException(Failure.NOT_MIGRATABLE, why);
  }
}
