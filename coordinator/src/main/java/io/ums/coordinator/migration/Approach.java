package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.MigrationException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The migration approach ("interface" in the API), named as UMS users know them. */
public enum Approach {
  /** service-level: CRIU on the process tree. */
  FF("ff", "process"),
  /** container-level with runc. */
  RUNC("runc", "container"),
  /** container-level with a nested runtime (podman in the pod). */
  PIND("pind", "container"),
  /**
   * orchestrator-level, consistent: the kubelet checkpoint API, and the source container stays stopped from
   * its checkpoint until the destination pod is Ready (then it is killed; on any failure it resumes).
   */
  KUBELET_CONSISTENT("kubelet-consistent", "checkpoint"),
  /**
   * orchestrator-level, a copy: the kubelet checkpoint API, the source runs on after its checkpoint (what it
   * does until the switch is lost). Opt-in.
   */
  KUBELET_COPY("kubelet-copy", "checkpoint");

  private final String wireName;
  private final String agentKind;

  Approach(String wireName, String agentKind) {
    this.wireName = wireName;
    this.agentKind = agentKind;
  }

  public String wireName() {
    return wireName;
  }

  /** The "kind" the agent's POST /v1/receive expects. */
  public String agentKind() {
    return agentKind;
  }

  /** Through the node's kubelet (a pod's containers, one checkpoint archive each). */
  public boolean viaKubelet() {
    return this == KUBELET_CONSISTENT || this == KUBELET_COPY;
  }

  public static Approach parse(String text) {
    String wanted = text.toLowerCase(Locale.ROOT);
    if (wanted.equals("dind")) {
      return PIND; // UMS's Docker-in-pod flavour; podman is the nested runtime we drive
    }
    if (wanted.equals("kubelet")) {
      return KUBELET_COPY; // what "kubelet" always meant: a copy; a pod without an interface moves consistently
    }
    return Arrays.stream(values())
        .filter(a -> a.wireName.equals(wanted))
        .findFirst()
        .orElseThrow(
            () ->
                MigrationException.badField(
                    "interface",
                    "unknown approach '"
                        + text
                        + "', expected one of "
                        + Arrays.stream(values()).map(Approach::wireName).collect(Collectors.joining(", "))));
  }

  /**
   * The default for a workload the agent reports with this kind/runtime; a pod the node's agent
   * does not run itself (kind "pod") can only move through its kubelet.
   */
  public static Approach forWorkload(String kind, String runtime) {
    if (SourceWorkload.KIND_POD.equals(kind)) {
      return KUBELET_CONSISTENT;
    }
    if ("container".equals(kind)) {
      return "podman".equals(runtime) ? PIND : RUNC;
    }
    return FF;
  }
}
