package io.ums.bench.kube;

import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Optional;

/**
 * One memory-service pod moved with {@code POST /migrate} through the coordinator's Service, and what was seen
 * around it: the memory checksum and counter before (source pod) and after (destination pod), whether the
 * source is gone, which pods the Service's endpoints name. Blocking.
 */
public record PodMove(int status, JsonObject answer, MemServiceClient.Answer before,
                      Optional<MemServiceClient.Answer> after, Optional<String> destinationPod,
                      Optional<String> destinationIp, String destinationNode, boolean sourceGone,
                      List<String> serviceEndpoints, long millis) {
  private static final long GONE_WITHIN_MS = 60_000;

  /** Moves {@code pod} (default namespace, interface kubelet-consistent) to {@code toNode}; {@code service} may be null. */
  public static PodMove run(KubeCluster cluster, UmsDeployment ums, String pod, String service, String toNode) {
    JsonObject source = cluster.getJson("pod", pod);
    String sourceIp = source.getJsonObject("status").getString("podIP");
    String sourceNode = source.getJsonObject("spec").getString("nodeName");
    MemServiceClient.Answer before = KubeMemService.verify(sourceIp);
    long started = System.nanoTime();
    UmsDeployment.MigrateAnswer answer = ums.migrate(sourceNode, new JsonObject().put("name", pod)
        .put("namespace", "default").put("destinationNode", toNode).put("interface", "kubelet-consistent"));
    long millis = (System.nanoTime() - started) / 1_000_000;
    if (answer.status() != 200) {
      return new PodMove(answer.status(), answer.body(), before, Optional.empty(), Optional.empty(),
          Optional.empty(), toNode, !exists(cluster, pod), endpoints(cluster, service), millis);
    }
    String destination = answer.body().getJsonObject("destination").getString("pod");
    JsonObject moved = cluster.getJson("pod", destination);
    String ip = moved.getJsonObject("status").getString("podIP");
    MemServiceClient.Answer after = KubeMemService.verify(ip);
    boolean gone = awaitGone(cluster, pod);
    return new PodMove(answer.status(), answer.body(), before, Optional.of(after), Optional.of(destination),
        Optional.of(ip), moved.getJsonObject("spec").getString("nodeName"), gone, awaitEndpoints(cluster, service, ip),
        millis);
  }

  public boolean checksumOk() {
    return after.map(a -> a.checksum().equals(before.checksum())).orElse(false);
  }

  /** The destination's counter went on from the source's, not from zero (a fresh start would be below it). */
  public boolean counterContinued() {
    return after.map(a -> a.counter() >= before.counter()).orElse(false);
  }

  /** The Service's endpoints are exactly the destination pod. */
  public boolean serviceSwitched() {
    return destinationIp.map(ip -> serviceEndpoints.equals(List.of(ip))).orElse(false);
  }

  /** A phase figure of the answer's {@code overhead} (ms), -1 when absent. */
  public long overhead(String phase) {
    return answer.getJsonObject("overhead", new JsonObject()).getLong(phase, -1L);
  }

  private static boolean exists(KubeCluster cluster, String pod) {
    return cluster.kubectl("get", "pod", pod, "-o", "name").ok();
  }

  /** Bound pods stay Terminating until their kubelet confirms; waits for that (polling), within a minute. */
  private static boolean awaitGone(KubeCluster cluster, String pod) {
    long deadline = System.currentTimeMillis() + GONE_WITHIN_MS;
    while (exists(cluster, pod)) {
      if (System.currentTimeMillis() > deadline) {
        return false;
      }
      sleep();
    }
    return true;
  }

  /** The endpoint controller follows the Service's change asynchronously: waits for it, within a minute. */
  private static List<String> awaitEndpoints(KubeCluster cluster, String service, String ip) {
    long deadline = System.currentTimeMillis() + GONE_WITHIN_MS;
    List<String> seen = endpoints(cluster, service);
    while (service != null && !seen.equals(List.of(ip)) && System.currentTimeMillis() < deadline) {
      sleep();
      seen = endpoints(cluster, service);
    }
    return seen;
  }

  /** The addresses of the Service's ready endpoints (EndpointSlices), empty without a Service. */
  static List<String> endpoints(KubeCluster cluster, String service) {
    if (service == null) {
      return List.of();
    }
    JsonArray slices = cluster.getJson("endpointslices", "-l", "kubernetes.io/service-name=" + service)
        .getJsonArray("items");
    return slices.stream().map(JsonObject.class::cast)
        .flatMap(slice -> slice.getJsonArray("endpoints", new JsonArray()).stream().map(JsonObject.class::cast))
        .filter(e -> e.getJsonObject("conditions", new JsonObject()).getBoolean("ready", true))
        .flatMap(e -> e.getJsonArray("addresses", new JsonArray()).stream().map(String::valueOf))
        .sorted().toList();
  }

  private static void sleep() {
    try {
      Thread.sleep(250);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
