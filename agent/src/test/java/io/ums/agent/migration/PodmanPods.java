package io.ums.agent.migration;

import io.ums.host.HostCommand;
import io.ums.testkit.BusyboxImages;
import io.ums.testkit.NetworkTestbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Real podman pods standing in for a Kubernetes node's pods: each pod shares its testbed node's network
 * namespace (podman runs under {@code nsenter --net}, pods use {@code --network host}), its infra container
 * runs a sleeping busybox (no pause image without a registry), and its container is the C memory service.
 * Every name starts with "kl" and a random suffix; {@link #close} removes the pods, their containers and
 * every image this object imported or was told about, even after a failed test. Blocking.
 */
final class PodmanPods implements AutoCloseable {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path dir;
  private final String prefix;
  private final Map<String, NetworkTestbed.Node> pods = new LinkedHashMap<>();
  private final Set<String> images = new LinkedHashSet<>();
  private String image;

  PodmanPods(Path dir) {
    this.dir = dir;
    this.prefix = "kl" + Integer.toString(RANDOM.nextInt(36 * 36 * 36 * 36), 36);
  }

  /** A pod name unique to this run. */
  String podName(String base) {
    return prefix + "-" + base;
  }

  /** Creates and starts pod {@code name} in {@code node}'s network namespace. */
  void createPod(NetworkTestbed.Node node, String name) throws Exception {
    pods.put(name, node);
    podman(node, "pod", "create", "--name", name, "--network", "host", "--infra-image", image(),
        "--infra-command", "/pause");
    podman(node, "pod", "start", name);
  }

  /** Runs {@code memservice PORT MIB SEED} as container {@code container} of {@code pod}. */
  void runMemService(String pod, String container, int port, int mib, long seed) throws Exception {
    podman(pods.get(pod), "run", "-d", "--pod", pod, "--name", containerName(pod, container), image(),
        "/memservice", Integer.toString(port), Integer.toString(mib), Long.toString(seed));
  }

  /** What CRI-O does for the kubelet: a checkpoint archive of the running container, which goes on running. */
  HostCommand.Result checkpoint(String pod, String container, Path export) {
    NetworkTestbed.Node node = pods.get(pod);
    if (node == null) {
      return new HostCommand.Result(1, "no pod " + pod);
    }
    return HostCommand.run(node.inNode(List.of("podman", "container", "checkpoint", "--leave-running",
        "--export=" + export, "--compress", "none", containerName(pod, container))));
  }

  /**
   * Restores {@code checkpointImage} as container {@code container} of {@code pod}: podman's restore from a
   * checkpoint image, standing in for CRI-O creating the destination pod's container from that image.
   */
  void restoreFromImage(String pod, String container, String checkpointImage) throws Exception {
    images.add(checkpointImage);
    NetworkTestbed.Node node = pods.get(pod);
    String podId = podman(node, "pod", "inspect", "--format", "{{.Id}}", pod).strip();
    // podman 4.3.1 finds the pod of --pod by id only
    podman(node, "container", "restore", "--name", containerName(pod, container), "--pod", podId,
        checkpointImage);
  }

  boolean running(String pod, String container) {
    HostCommand.Result state = HostCommand.run("podman", "inspect", "--format", "{{.State.Running}}",
        containerName(pod, container));
    return state.ok() && state.output().strip().equals("true");
  }

  /** Whether podman's image store (containers-storage) has {@code name}. */
  static boolean imageExists(String name) {
    return HostCommand.run("podman", "image", "exists", name).ok();
  }

  /** Removes {@code name} on close too (an image a test expects not to exist, in case it does). */
  void removeOnClose(String name) {
    images.add(name);
  }

  private static String containerName(String pod, String container) {
    return pod + "-" + container;
  }

  /** busybox + memservice + a /pause script for the infra containers, imported once. */
  private String image() throws Exception {
    if (image == null) {
      Path root = Files.createDirectories(dir.resolve("pod-rootfs"));
      HostCommand.check("tar", "-xf", BusyboxImages.baseLayer(dir).toString(), "-C", root.toString());
      HostCommand.check("tar", "-xf", BusyboxImages.memServiceLayer(dir).toString(), "-C", root.toString());
      Path pause = root.resolve("pause");
      Files.writeString(pause, "#!/bin/sh\nexec /bin/sleep 2147483647\n");
      pause.toFile().setExecutable(true);
      Path tarball = dir.resolve("pod-rootfs.tar");
      HostCommand.check("tar", "--numeric-owner", "--owner=0", "--group=0", "-cf", tarball.toString(),
          "-C", root.toString(), ".");
      String name = "localhost/" + prefix + "-memservice:test";
      images.add(name);
      HostCommand.check("podman", "import", "--quiet", tarball.toString(), name);
      image = name;
    }
    return image;
  }

  private static String podman(NetworkTestbed.Node node, String... args) {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(args));
    HostCommand.Result result = HostCommand.run(node.inNode(command));
    if (!result.ok()) {
      throw new IllegalStateException(String.join(" ", command) + " failed (exit " + result.exitCode() + "): "
          + result.output());
    }
    return result.output();
  }

  @Override
  public void close() {
    for (String pod : pods.keySet()) {
      HostCommand.run("podman", "pod", "rm", "--force", "--ignore", "--time", "0", pod);
    }
    for (String name : images) {
      HostCommand.run("podman", "rmi", "--force", "--ignore", name);
    }
  }
}
