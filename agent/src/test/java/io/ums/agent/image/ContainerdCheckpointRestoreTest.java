package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kubelet's checkpoint archive, turned into a checkpoint image by {@link CheckpointImages}, restored by a
 * REAL containerd 2.2 on another node. Real parts: the two-node cluster of {@code ./ums cluster up} (etcd,
 * kube-apiserver, controller-manager, scheduler; per node containerd + runc + CRIU + kubelet, each node in its
 * own network and mount namespace). A busybox counter runs on node-a; node-a's kubelet checkpoints it through
 * {@code POST /checkpoint/{ns}/{pod}/{container}}; the archive becomes an image that the agent's own
 * {@code containerd:<socket>} target streams into node-b's containerd ({@code ctr images import}); a pod on node-b whose image is that one is restored
 * by containerd's CRI plugin (CreateContainer sees the manifest annotation, StartContainer restores with CRIU)
 * and its counter goes on from the checkpointed value. Brings the cluster up (and down again) when it is not
 * running.
 */
@Tag("slow")
@Tag("k8s")
class ContainerdCheckpointRestoreTest {
  private static final Path REPO = Path.of("").toAbsolutePath().getParent();
  /** Which {@code ./ums cluster} (UMS_CLUSTER_ID, as scripts/cluster.sh derives its directory and subnets). */
  private static final int CLUSTER_ID = Integer.parseInt(env("UMS_CLUSTER_ID", "0"));
  private static final Path CLUSTER = Path.of(env("UMS_CLUSTER_DIR",
      "/var/lib/ums/cluster" + (CLUSTER_ID == 0 ? "" : "-" + CLUSTER_ID)));
  private static final Path K8S_BIN = Path.of(env("UMS_K8S_PREFIX", "/opt/ums/k8s"), "bin");
  private static final Path BUSYBOX = Path.of(env("UMS_K8S_IMAGE_CACHE", "/var/cache/ums/k8s-images"),
      "busybox.oci.tar");
  private static final String NODE_A_IP = "172.31." + (240 + CLUSTER_ID) + ".11";
  private static final Duration WAIT = Duration.ofSeconds(120);

  private static boolean startedCluster;

  @TempDir
  Path dir;

  private final String suffix = UUID.randomUUID().toString().substring(0, 8);
  private final String source = "ums-ckpt-src-" + suffix;
  private final String restored = "ums-ckpt-dst-" + suffix;
  private final String image = CheckpointImages.imageName(source, "c", suffix);

  @BeforeAll
  static void cluster() {
    if (run(Duration.ofSeconds(60), ums("status")).exitCode != 0) {
      startedCluster = true;
      check(Duration.ofMinutes(10), ums("up"));
    }
    if (Files.exists(BUSYBOX)) {
      check(Duration.ofMinutes(2), ums("import", BUSYBOX.toString()));
    } else {
      // the check builds the busybox image from the host's busybox-static and imports it into both nodes
      check(Duration.ofMinutes(5), ums("check"));
    }
  }

  @AfterAll
  static void clusterDown() {
    if (startedCluster) {
      check(Duration.ofMinutes(5), ums("down"));
    }
  }

  @AfterEach
  void cleanUp() throws IOException {
    kubectl(Duration.ofSeconds(60), "delete", "pod", source, restored, "--ignore-not-found", "--grace-period=0",
        "--force");
    run(Duration.ofSeconds(60), ctr("node-b", "images", "rm", image));
    try (var files = Files.list(CLUSTER.resolve("nodes/node-a/kubelet/checkpoints"))) {
      for (Path file : files.filter(f -> f.getFileName().toString().startsWith("checkpoint-" + source + "_"))
          .toList()) {
        Files.deleteIfExists(file);
      }
    }
  }

  @Test
  void aKubeletCheckpointBecomesAnImageThatContainerdRestoresOnTheOtherNode() throws Exception {
    apply(pod(source, "node-a", "localhost/ums-busybox:check",
        "command: [\"/bin/sh\", \"-c\", \"i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done\"]"));
    awaitReady(source);
    await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> count(source) >= 3);

    long before = count(source);
    JsonObject answer = new JsonObject(check(Duration.ofSeconds(150), "curl", "-sS", "-X", "POST",
        "--max-time", "120", "--cacert", pki("ca.crt"), "--cert", pki("admin.crt"), "--key", pki("admin.key"),
        "https://" + NODE_A_IP + ":10250/checkpoint/default/" + source + "/c"));
    // the kubelet reports the path inside node-a (/var/lib/kubelet/checkpoints/...); on the host that directory
    // is node-a's own, as an agent finds the archive by its name in its mount of it
    Path archive = CLUSTER.resolve("nodes/node-a/kubelet/checkpoints")
        .resolve(Path.of(answer.getJsonArray("items").getString(0)).getFileName());
    long after = count(source);

    CheckpointImages nodeB = CheckpointImages.parse("containerd:" + socket("node-b"),
        K8S_BIN.resolve("ctr").toString());
    Path scratch = Files.createDirectories(dir.resolve("scratch"));
    nodeB.importArchive(Files.copy(archive, dir.resolve("checkpoint.tar")), scratch, image, "c");
    assertThat(nodeB.exists(image)).as("imported into node-b's containerd").isTrue();
    assertThat(scratch.resolve("containerd-layout")).as("the scratch layout is gone once imported")
        .doesNotExist();

    apply(pod(restored, "node-b", image, ""));
    awaitReady(restored);
    long first = count(restored);
    assertThat(first).as("counter continues from the checkpoint (%d..%d before/after it), not from 1", before,
        after).isGreaterThanOrEqualTo(before);
    await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> count(restored) > first);
    assertThat(kubectlCheck("get", "pod", restored, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"))
        .as("restored once, not restarted").isEqualTo("0");

    kubectlCheck("delete", "pod", restored, "--grace-period=0", "--force");
    nodeB.remove(image);
    assertThat(nodeB.exists(image)).as("ctr images rm, as a failed session's release does").isFalse();
  }

  private static String pod(String name, String node, String image, String command) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default}\nspec:\n"
        + "  nodeName: " + node + "\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n"
        + "    image: " + image + "\n    imagePullPolicy: Never\n" + (command.isEmpty() ? "" : "    " + command + "\n");
  }

  /** On failure says why the container is not running (a plain image here: "no command specified"). */
  private static void awaitReady(String pod) {
    if (kubectl(WAIT.plusSeconds(30), "wait", "--for=condition=Ready", "pod/" + pod, "--timeout=120s").exitCode != 0) {
      throw new IllegalStateException("pod " + pod + " not Ready: " + kubectl(Duration.ofSeconds(30), "get", "pod",
          pod, "-o", "jsonpath={.status.containerStatuses[0].state}").output);
    }
  }

  private void apply(String manifest) throws IOException {
    Path file = Files.writeString(dir.resolve(UUID.randomUUID() + ".yaml"), manifest);
    kubectlCheck("apply", "-f", file.toString());
  }

  private static long count(String pod) {
    Result result = kubectl(Duration.ofSeconds(30), "exec", pod, "--", "cat", "/tmp/count");
    return result.exitCode == 0 && result.output.strip().matches("\\d+") ? Long.parseLong(result.output.strip())
        : -1;
  }

  private static String pki(String file) {
    return CLUSTER.resolve("pki").resolve(file).toString();
  }

  private static List<String> ums(String... args) {
    List<String> command = new ArrayList<>(List.of(REPO.resolve("ums").toString(), "cluster"));
    command.addAll(List.of(args));
    return command;
  }

  private static List<String> ctr(String node, String... args) {
    List<String> command = new ArrayList<>(List.of(K8S_BIN.resolve("ctr").toString(), "--address",
        socket(node).toString(), "-n", "k8s.io"));
    command.addAll(List.of(args));
    return command;
  }

  private static Path socket(String node) {
    return CLUSTER.resolve("nodes").resolve(node).resolve("containerd.sock");
  }

  private static Result kubectl(Duration timeout, String... args) {
    List<String> command = new ArrayList<>(List.of(K8S_BIN.resolve("kubectl").toString(),
        "--kubeconfig=" + CLUSTER.resolve("admin.kubeconfig")));
    command.addAll(List.of(args));
    return run(timeout, command);
  }

  private static String kubectlCheck(String... args) {
    Result result = kubectl(WAIT.plusSeconds(30), args);
    if (result.exitCode != 0) {
      throw new IllegalStateException("kubectl " + String.join(" ", args) + " failed: " + result.output);
    }
    return result.output;
  }

  private static String check(Duration timeout, String... command) {
    return check(timeout, List.of(command));
  }

  private static String check(Duration timeout, List<String> command) {
    Result result = run(timeout, command);
    if (result.exitCode != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed (exit " + result.exitCode + "): "
          + result.output);
    }
    return result.output;
  }

  private record Result(int exitCode, String output) {}

  /**
   * Output to files, not pipes: {@code ./ums cluster up} leaves daemons behind that must not hold a pipe this
   * waits on. stdout only (ctr and the cluster script log to stderr); stderr joins it when the command fails.
   */
  private static Result run(Duration timeout, List<String> command) {
    try {
      File out = File.createTempFile("ums-ckpt-", ".out");
      File err = File.createTempFile("ums-ckpt-", ".err");
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

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
