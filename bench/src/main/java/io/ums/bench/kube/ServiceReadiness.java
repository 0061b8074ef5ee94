package io.ums.bench.kube;

import java.time.Duration;
import java.util.List;

/**
 * Waits until a memory-service pod is reachable through its Service from a node, the way a client there reaches
 * it: the Service's EndpointSlice lists the pod's address as ready, and a new connection to the cluster IP from
 * the node's network namespace gets an answer. A pod that is Ready and answers at its own IP is not enough:
 * kube-proxy programs the Service's DNAT rules about a second later (measured on this cluster: in half of the
 * tries the node still had only the "has no endpoints" REJECT rule, or no rule at all, when the pod answered). A
 * client whose first SYN goes out before kube-proxy's first rule for the cluster IP sends it un-NATed (into the
 * node's default route, where nothing answers); conntrack then pins every retransmission of that SYN to the same
 * un-NATed entry even after the DNAT rule exists, so a client without a connect timeout (bash's /dev/tcp) hangs
 * for the kernel's whole SYN retry budget, 127 s. Each probe here is a new connection with a deadline. Blocking.
 */
public final class ServiceReadiness {
  private static final Duration PROBE = Duration.ofSeconds(5);
  // A new connection, "c" asked, the answer's two words printed; `timeout` bounds a connect that never ends
  private static final String PROBE_SCRIPT =
      "exec 3<>\"/dev/tcp/$0/$1\" && printf 'c\\n' >&3 && read -r -t 3 counter word <&3 && echo \"$counter $word\"";

  private ServiceReadiness() {}

  /**
   * Waits (at most {@code timeout}) until {@code service} (namespace default) has {@code podIp} among its ready
   * endpoints and the memory service answers through the Service's cluster IP from {@code node}; returns the
   * cluster IP. Throws {@link KubeCommands.Failed} with what the node's kube-proxy shows when it does not.
   */
  public static String await(KubeCluster cluster, String service, String podIp, String node, Duration timeout) {
    String clusterIp = cluster.getJson("service", service).getJsonObject("spec").getString("clusterIP");
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "not asked yet";
    while (true) {
      List<String> endpoints = PodMove.endpoints(cluster, service);
      if (!endpoints.contains(podIp)) {
        last = "the Service's ready endpoints are " + endpoints + ", not yet " + podIp;
      } else {
        KubeCommands.Result probe = cluster.inNode(node, Duration.ofSeconds(PROBE.toSeconds() + 5), List.of(
            "timeout", String.valueOf(PROBE.toSeconds()), "bash", "-c", PROBE_SCRIPT, clusterIp,
            String.valueOf(KubeMemService.PORT)));
        if (probe.ok() && probe.output().strip().split(" ").length == 2) {
          return clusterIp;
        }
        last = "a new connection to " + clusterIp + ":" + KubeMemService.PORT + " from " + node + " got no answer"
            + " (exit " + probe.exitCode() + ": " + probe.output().strip() + ")";
      }
      if (System.nanoTime() > deadline) {
        throw new KubeCommands.Failed("Service " + service + " not answering through its cluster IP from " + node
            + " within " + timeout.toSeconds() + " s: " + last + "\n" + cluster.serviceDiagnostics(service, node));
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }
}
