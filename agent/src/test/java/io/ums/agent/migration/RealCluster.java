package io.ums.agent.migration;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The two-node cluster of {@code ./ums cluster} (UMS_CLUSTER_ID), as the tests see it from the host: kubectl with
 * the admin kubeconfig, the nodes' directories, a container's processes through the freezer cgroup named after
 * its id. Brings the cluster up when it is not running (and says so: {@link #down()} then takes it down).
 * Blocking.
 */
final class RealCluster {
  static final Path REPO = Path.of("").toAbsolutePath().getParent();
  static final int ID = Integer.parseInt(env("UMS_CLUSTER_ID", "0"));
  static final Path DIR = Path.of(env("UMS_CLUSTER_DIR", "/var/lib/ums/cluster" + (ID == 0 ? "" : "-" + ID)));
  static final Path BIN = Path.of(env("UMS_K8S_PREFIX", "/opt/ums/k8s"), "bin");
  static final String NODE_A_IP = "172.31." + (240 + ID) + ".11";
  static final Path BUSYBOX = Path.of(env("UMS_K8S_IMAGE_CACHE", "/var/cache/ums/k8s-images"), "busybox.oci.tar");
  static final String BUSYBOX_IMAGE = "localhost/ums-busybox:check";
  static final Duration WAIT = Duration.ofSeconds(120);
  private static final Path FREEZER = Path.of("/sys/fs/cgroup/freezer");

  private static boolean started;

  private RealCluster() {}

  /** The cluster of this id, up, with the busybox image on both nodes. */
  static void up() {
    if (run(Duration.ofSeconds(60), ums("status")).exitCode() != 0) {
      started = true;
      check(Duration.ofMinutes(10), ums("up"));
    }
    if (Files.exists(BUSYBOX)) {
      check(Duration.ofMinutes(2), ums("import", BUSYBOX.toString()));
    } else {
      check(Duration.ofMinutes(5), ums("check"));
    }
  }

  /** Down again, if {@link #up()} brought it up. */
  static void down() {
    if (started) {
      check(Duration.ofMinutes(5), ums("down"));
    }
  }

  static Path node(String name) {
    return DIR.resolve("nodes").resolve(name);
  }

  static Path pki(String file) {
    return DIR.resolve("pki").resolve(file);
  }

  static Result kubectl(Duration timeout, String... args) {
    List<String> command = new ArrayList<>(List.of(BIN.resolve("kubectl").toString(),
        "--kubeconfig=" + DIR.resolve("admin.kubeconfig")));
    command.addAll(List.of(args));
    return run(timeout, command);
  }

  static String kubectlCheck(String... args) {
    Result result = kubectl(WAIT.plusSeconds(30), args);
    if (result.exitCode() != 0) {
      throw new IllegalStateException("kubectl " + String.join(" ", args) + " failed: " + result.output());
    }
    return result.output();
  }

  static void apply(String manifest) throws IOException {
    Path file = Files.createTempFile("ums-k8s-", ".yaml");
    try {
      Files.writeString(file, manifest);
      kubectlCheck("apply", "-f", file.toString());
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /** On failure says why the container is not running. */
  static void awaitReady(String pod) {
    if (kubectl(WAIT.plusSeconds(30), "wait", "--for=condition=Ready", "pod/" + pod, "--timeout=120s").exitCode()
        != 0) {
      throw new IllegalStateException("pod " + pod + " not Ready: " + kubectl(Duration.ofSeconds(30), "get", "pod",
          pod, "-o", "jsonpath={.status.containerStatuses[0].state}").output());
    }
  }

  /** The runtime's id of the pod's first container, without the {@code containerd://} prefix. */
  static String containerId(String pod) {
    String id = kubectlCheck("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}");
    return id.substring(id.indexOf("://") + 3).strip();
  }

  /** The container's freezer cgroup on the host (every node's cgroups are in the host's hierarchy). */
  static Path cgroup(String containerId) throws IOException {
    try (Stream<Path> found = Files.find(FREEZER, 8, (path, attrs) -> attrs.isDirectory()
        && path.getFileName().toString().equals(containerId))) {
      return found.findFirst().orElseThrow(() -> new IllegalStateException("no cgroup " + containerId));
    }
  }

  /** The container's processes with their state letter (R, S, T, ...), read from /proc. */
  static List<String> states(String containerId) throws IOException {
    List<String> states = new ArrayList<>();
    for (String pid : Files.readAllLines(cgroup(containerId).resolve("cgroup.procs"))) {
      try {
        String stat = Files.readString(Path.of("/proc", pid.strip(), "stat"));
        states.add(pid.strip() + ":" + stat.charAt(stat.lastIndexOf(')') + 2));
      } catch (IOException gone) {
        // exited meanwhile (ENOENT or ESRCH)
      }
    }
    return states;
  }

  /** A file of the container's root, read through its first process (works while it is stopped). */
  static Optional<String> readFile(String containerId, String path) throws IOException {
    for (String pid : Files.readAllLines(cgroup(containerId).resolve("cgroup.procs"))) {
      Path file = Path.of("/proc", pid.strip(), "root", path);
      try {
        return Optional.of(Files.readString(file, StandardCharsets.UTF_8).strip());
      } catch (IOException e) {
        // this process is gone or sees another root: try the next
      }
    }
    return Optional.empty();
  }

  static List<String> ums(String... args) {
    List<String> command = new ArrayList<>(List.of(REPO.resolve("ums").toString(), "cluster"));
    command.addAll(List.of(args));
    return command;
  }

  static List<String> ctr(String node, String... args) {
    List<String> command = new ArrayList<>(List.of(BIN.resolve("ctr").toString(), "--address",
        node(node).resolve("containerd.sock").toString(), "-n", "k8s.io"));
    command.addAll(List.of(args));
    return command;
  }

  static String check(Duration timeout, List<String> command) {
    Result result = run(timeout, command);
    if (result.exitCode() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed (exit " + result.exitCode() + "): "
          + result.output());
    }
    return result.output();
  }

  record Result(int exitCode, String output) {}

  /** Output to files, not pipes: {@code ./ums cluster up} leaves daemons behind that must not hold a pipe. */
  static Result run(Duration timeout, List<String> command) {
    try {
      File out = File.createTempFile("ums-k8s-", ".out");
      File err = File.createTempFile("ums-k8s-", ".err");
      try {
        Process process = new ProcessBuilder(command).redirectOutput(out).redirectError(err)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          return new Result(-1, String.join(" ", command) + " timed out after " + timeout);
        }
        String output = Files.readString(out.toPath());
        return new Result(process.exitValue(), process.exitValue() == 0 ? output
            : output + "\n" + Files.readString(err.toPath()));
      } finally {
        out.delete();
        err.delete();
      }
    } catch (IOException e) {
      return new Result(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
