package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * Waits, without a thread, until a pod is Running and Ready: fabric8's {@code informOnCondition}
 * (list + watch of that one pod) completes when the pod settles either way, and {@code orTimeout}
 * ends the wait (and the informer) after the timeout. A pod that cannot start (it failed, was
 * deleted, or a container waits for a reason that will not go away by itself, such as
 * ErrImageNeverPull for a checkpoint image missing on the node) fails at once, with that reason.
 */
final class PodReadiness {
  /** Container waiting reasons that mean "this pod will not start"; others (ContainerCreating) are progress. */
  private static final Set<String> HOPELESS = Set.of("ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff",
      "InvalidImageName", "CreateContainerError", "CreateContainerConfigError", "CrashLoopBackOff",
      "RunContainerError");

  private final KubernetesClient client;
  private final KubeCalls kube;

  PodReadiness(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  Future<Pod> awaitReady(String namespace, String name, Duration timeout) {
    AtomicReference<Pod> lastSeen = new AtomicReference<>();
    String what = "wait for pod " + namespace + "/" + name + " to be Ready";
    return kube.<List<Pod>>await(Set.of(KubePermission.PODS_LIST, KubePermission.PODS_WATCH), what, () ->
            client.pods().inNamespace(namespace).withName(name)
                .informOnCondition(pods -> {
                  lastSeen.set(pods.isEmpty() ? null : pods.get(0));
                  return pods.isEmpty() || ready(pods.get(0)) || hopeless(pods.get(0)) != null;
                })
                .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS))
        .recover(failure -> Future.failedFuture(failure instanceof TimeoutException
            ? new MigrationException(Failure.PHASE_TIMEOUT, "pod " + namespace + "/" + name + " was not Running and"
                + " Ready within " + timeout.toMillis() + " ms (" + describe(lastSeen.get()) + ")")
            : failure))
        .compose(pods -> {
          Pod pod = pods.isEmpty() ? null : pods.get(0);
          if (pod != null && ready(pod)) {
            return Future.succeededFuture(pod);
          }
          String why = pod == null ? "it was deleted" : describe(pod);
          return Future.failedFuture(new MigrationException(Failure.PEER_FAILED,
              "pod " + namespace + "/" + name + " cannot start: " + why));
        });
  }

  static boolean ready(Pod pod) {
    if (pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    List<PodCondition> conditions = pod.getStatus().getConditions();
    return conditions != null && conditions.stream()
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Why the pod will not become Ready by waiting, or null while it still may. */
  private static String hopeless(Pod pod) {
    if (pod.getStatus() == null) {
      return null;
    }
    String phase = pod.getStatus().getPhase();
    if ("Failed".equals(phase) || "Succeeded".equals(phase)) {
      return "phase " + phase;
    }
    return containerStatuses(pod).stream()
        .filter(c -> c.getState() != null && c.getState().getWaiting() != null
            && HOPELESS.contains(c.getState().getWaiting().getReason()))
        .map(PodReadiness::describe)
        .findFirst().orElse(null);
  }

  private static String describe(Pod pod) {
    if (pod == null) {
      return "the pod is gone";
    }
    if (pod.getStatus() == null) {
      return "no status yet: not scheduled or the kubelet did not report";
    }
    String containers = containerStatuses(pod).stream().map(PodReadiness::describe).collect(Collectors.joining(", "));
    return "phase " + pod.getStatus().getPhase() + (containers.isEmpty() ? "" : ", " + containers);
  }

  private static String describe(ContainerStatus status) {
    String state = "running";
    if (status.getState() != null && status.getState().getWaiting() != null) {
      var waiting = status.getState().getWaiting();
      state = "waiting " + waiting.getReason() + (waiting.getMessage() == null ? "" : ": " + waiting.getMessage());
    } else if (status.getState() != null && status.getState().getTerminated() != null) {
      var terminated = status.getState().getTerminated();
      state = "terminated " + terminated.getReason() + " (exit " + terminated.getExitCode() + ")";
    }
    return "container " + status.getName() + " " + state + (Boolean.TRUE.equals(status.getReady()) ? ", ready" : "");
  }

  private static List<ContainerStatus> containerStatuses(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
        ? List.of() : pod.getStatus().getContainerStatuses();
  }
}
