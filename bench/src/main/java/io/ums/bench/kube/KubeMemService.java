package io.ums.bench.kube;

import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

/**
 * The memory service ({@link MemService}: random memory, a counter, a TCP port) as a pod workload: a
 * one-file image (the static binary, FROM scratch) built with podman, imported into every node's containerd,
 * and the manifests of a plain pod, of a ReplicaSet, and of a Service in front of either. Blocking.
 */
public final class KubeMemService {
  public static final int PORT = 9000;
  public static final String CONTAINER = "mem";

  private final String image;
  private final Path archive;

  private KubeMemService(String image, Path archive) {
    this.image = image;
    this.archive = archive;
  }

  /** Imports the image into every node again (after a test removed it from one). */
  public void reimport(KubeCluster cluster) {
    cluster.importImage(archive);
  }

  /** Builds the image (gcc -static, podman build) and imports it into the cluster's nodes. */
  public static KubeMemService install(KubeCluster cluster, Path scratch) {
    String image = "localhost/ums-memservice:k8s" + cluster.id();
    try {
      Path context = Files.createDirectories(scratch.resolve("memservice-image"));
      Files.copy(MemService.build(scratch.resolve("memservice-build")), context.resolve("memservice"),
          StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(context.resolve("Containerfile"), "FROM scratch\nCOPY memservice /memservice\n"
          + "ENTRYPOINT [\"/memservice\"]\n");
      Path archive = scratch.resolve("memservice.oci.tar");
      KubeCommands.check(Duration.ofMinutes(5), List.of("podman", "build", "-q", "--pull=never", "-t", image, "-f",
          context.resolve("Containerfile").toString(), context.toString()));
      KubeCommands.check(Duration.ofMinutes(2), List.of("podman", "save", "-q", "--format", "oci-archive", "-o",
          archive.toString(), image));
      cluster.importImage(archive);
      return new KubeMemService(image, archive);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String image() {
    return image;
  }

  /**
   * A pod on {@code node} holding {@code mib} MiB of random memory (seed {@code seed}). No probes: a probe's
   * connection open at the kubelet's checkpoint would be an established TCP connection, which the runtime's
   * checkpoint refuses.
   */
  public String pod(String name, String node, int mib, long seed) {
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: default\n  labels: {app: " + name
        + "}\nspec:\n" + podSpec(node, mib, seed, "  ");
  }

  /** A ReplicaSet of one such pod, pinned to {@code node} by nodeName (not a selector the copy would inherit). */
  public String replicaSet(String name, String node, int mib, long seed) {
    return "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: " + name + "\n  namespace: default\nspec:\n"
        + "  replicas: 1\n  selector:\n    matchLabels: {app: " + name + "}\n  template:\n    metadata:\n"
        + "      labels: {app: " + name + "}\n    spec:\n" + podSpec(node, mib, seed, "      ");
  }

  /** A Service selecting {@code app: <app>} on the memory service's port. */
  public static String service(String name, String app) {
    return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: default\nspec:\n"
        + "  selector: {app: " + app + "}\n  ports:\n  - {port: " + PORT + ", targetPort: " + PORT + "}\n";
  }

  private String podSpec(String node, int mib, long seed, String indent) {
    return indent + "nodeName: " + node + "\n" + indent + "terminationGracePeriodSeconds: 0\n" + indent
        + "containers:\n" + indent + "- name: " + CONTAINER + "\n" + indent + "  image: " + image + "\n" + indent
        + "  imagePullPolicy: Never\n" + indent + "  args: [\"" + PORT + "\", \"" + mib + "\", \"" + seed + "\"]\n"
        + indent + "  ports:\n" + indent + "  - {containerPort: " + PORT + "}\n";
  }

  /** Counter and memory checksum recomputed now, asked over TCP at the pod's IP (routed from the host). */
  public static MemServiceClient.Answer verify(String podIp) {
    try {
      return MemServiceClient.verify(podIp, PORT, 10_000);
    } catch (IOException e) {
      throw new UncheckedIOException("memory service at " + podIp + ":" + PORT + ": " + e.getMessage(), e);
    }
  }
}
