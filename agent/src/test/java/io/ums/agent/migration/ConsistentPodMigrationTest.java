package io.ums.agent.migration;

import static io.ums.agent.migration.RealCluster.kubectl;
import static io.ums.agent.migration.RealCluster.kubectlCheck;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Interface kubelet-consistent on a REAL cluster: the two nodes of {@code ./ums cluster} (etcd, kube-apiserver,
 * controller-manager, scheduler; per node containerd 2 + runc + CRIU + kubelet, each node in its own network
 * and mount namespace, runc's CRIU configured to stop a container after its dump), two real agent JVMs on the
 * host (the source calls node-a's kubelet checkpoint API with a ServiceAccount token bound to the ClusterRole
 * of deploy/daemonset.yml and reads node-a's checkpoint directory; the destination imports into node-b's
 * containerd), driven through their control APIs as the coordinator drives them (receive on the destination,
 * send on the source, the destination pod created from the checkpoint image, then the source deleted and its
 * stopped container killed, or resumed). The workload is a busybox counter that writes its value to a file;
 * the test reads it through /proc, also while the container is stopped.
 */
@Tag("slow")
@Tag("k8s")
class ConsistentPodMigrationTest {
  private static final Duration WAIT = RealCluster.WAIT;
  private static Path token;

  @TempDir
  Path dir;

  private final String suffix = UUID.randomUUID().toString().substring(0, 8);
  private final String source = "ums-pf-src-" + suffix;
  private final String restored = "ums-pf-dst-" + suffix;
  private final List<HostAgent> agents = new ArrayList<>();
  private final List<Socket> silent = java.util.Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  static void cluster() throws IOException {
    RealCluster.up();
    // the agent's RBAC exactly as deployed: its ServiceAccount, the ClusterRole and binding of the manifest
    String manifest = Files.readString(RealCluster.REPO.resolve("deploy/daemonset.yml"));
    StringBuilder rbac = new StringBuilder("apiVersion: v1\nkind: Namespace\nmetadata: {name: ums-system}\n");
    for (String document : manifest.split("(?m)^---\\s*$")) {
      if (!document.contains("kind: DaemonSet") && document.contains("kind:")) {
        rbac.append("---\n").append(document.strip()).append('\n');
      }
    }
    RealCluster.apply(rbac.toString());
    token = Files.createTempFile("ums-agent-token-", "");
    Files.writeString(token, kubectlCheck("create", "token", "ums-agent", "-n", "ums-system", "--duration=2h")
        .strip());
  }

  @AfterAll
  static void clusterDown() throws IOException {
    if (token != null) {
      Files.deleteIfExists(token);
    }
    RealCluster.down();
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (HostAgent agent : agents) {
      agent.close();
    }
    for (Socket socket : silent) {
      socket.close();
    }
    kubectl(Duration.ofSeconds(60), "delete", "pod", source, restored, "--ignore-not-found", "--grace-period=0",
        "--force");
    // the checkpoint images of this test's source (a failed session removes its own; a retired one is a name)
    for (String image : imageDigests("node-b").keySet()) {
      if (image.startsWith("localhost/ums-checkpoint/" + source + "-")) {
        RealCluster.run(Duration.ofSeconds(60), RealCluster.ctr("node-b", "images", "rm", "--sync", image));
      }
    }
    try (var files = Files.list(RealCluster.node("node-a").resolve("kubelet/checkpoints"))) {
      for (Path file : files.filter(f -> f.getFileName().toString().startsWith("checkpoint-" + source + "_"))
          .toList()) {
        Files.deleteIfExists(file);
      }
    }
  }

  @Test
  void theSourceStopsAtItsCheckpointAndTheDestinationGoesOnFromWhereItStopped() throws Exception {
    String containerId = startCounter(source, 0);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = nodeBAgent();
    long lastWhileRunning = counter(containerId);
    Socket client = echoClient(source);
    assertThat(echo(client, "hello")).isEqualTo("hello");

    Measured measured = migrate(from, to, containerId, "consistent", 0);

    assertThat(measured.status().getString("phase")).isEqualTo("DONE");
    long stoppedAt = counter(containerId);
    assertThat(stoppedAt).as("read while it ran").isGreaterThanOrEqualTo(lastWhileRunning);
    assertThat(RealCluster.states(containerId)).as("every process of the source stopped after its checkpoint")
        .isNotEmpty().allMatch(state -> state.endsWith(":T"));
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
        .until(() -> counter(containerId) == stoppedAt);
    assertThat(from.getArray("/v1/stopped-containers").encode()).contains(containerId);

    String restoredId = RealCluster.containerId(restored);
    long first = counter(restoredId);
    assertThat(first).as("the destination goes on from the source's last value (%d), nothing after it lost",
        stoppedAt).isGreaterThanOrEqualTo(stoppedAt);
    await().atMost(WAIT).until(() -> counter(restoredId) > first);

    // the switch, as the coordinator makes it: committed on the agent (never resumed from now on), the source pod
    // deleted with a 1 s grace period, so its kubelet kills the stopped container itself; once the pod is gone
    // the agent lets go of it
    assertThat(from.post("/v1/stopped-containers/" + containerId + "/commit", new JsonObject(), 200)
        .getBoolean("committed")).isTrue();
    from.post("/v1/stopped-containers/" + containerId + "/resume", new JsonObject(), 409);
    kubectlCheck("delete", "pod", source, "--grace-period=1", "--wait=false");
    await().atMost(WAIT).until(() -> kubectl(Duration.ofSeconds(30), "get", "pod", source).exitCode() != 0);
    JsonObject killed = from.post("/v1/stopped-containers/" + containerId + "/kill", new JsonObject(), 200);
    assertThat(killed.getString("outcome")).isEqualTo("killed");
    assertThat(killed.getInteger("processes")).as("the kubelet had killed the stopped container").isZero();
    assertThat(from.getArray("/v1/stopped-containers")).isEmpty();
    System.out.println("kubelet-consistent, counter " + lastWhileRunning + " (running) -> " + stoppedAt
        + " (stopped) -> " + first + " (destination): " + measured);
  }

  /**
   * The restored pod runs: POST /v1/checkpoint-images/retire (what the coordinator sends then) points the image's
   * name at busybox, the image the checkpoint was taken from, and node-b's containerd drops the checkpoint's
   * manifest, layer and snapshot. A restart of the container (its process killed) then starts afresh from
   * busybox, with a new writable layer, where the checkpoint would have taken it back to the migration.
   */
  @Test
  void onceItsPodRunsTheCheckpointImageStartsTheContainerAfreshAndLeavesTheNode() throws Exception {
    String containerId = startCounter(source, 0);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = nodeBAgent();
    writeFile(containerId, "tmp/written-before-the-move", "in the writable layer");

    Measured measured = migrate(from, to, containerId, "consistent", 0);
    String image = measured.status().getString("checkpointImage");
    String restoredId = RealCluster.containerId(restored);
    assertThat(RealCluster.readFile(restoredId, "tmp/written-before-the-move")).as("the writable layer moved")
        .contains("in the writable layer");
    String checkpointManifest = imageDigests("node-b").get(image);
    JsonObject manifest = new JsonObject(RealCluster.check(Duration.ofSeconds(30), RealCluster.ctr("node-b",
        "content", "get", checkpointManifest)));
    String checkpointLayer = manifest.getJsonArray("layers").getJsonObject(0).getString("digest");
    String busybox = imageDigests("node-b").get(RealCluster.BUSYBOX_IMAGE);
    assertThat(checkpointManifest).isNotNull().isNotEqualTo(busybox);
    assertThat(contentDigests("node-b")).contains(checkpointManifest, checkpointLayer);

    to.post("/v1/checkpoint-images/retire", new JsonObject().put("image", RealCluster.BUSYBOX_IMAGE), 400);
    to.post("/v1/checkpoint-images/retire", new JsonObject().put("image", image + "-none"), 404);
    JsonObject retired = to.post("/v1/checkpoint-images/retire", new JsonObject().put("image", image), 200);

    assertThat(retired.getString("startsFrom")).as("%s", retired).startsWith("sha256:");
    Map<String, String> digests = imageDigests("node-b");
    assertThat(digests.get(image)).as("the name now starts busybox").isEqualTo(busybox);
    assertThat(digests).as("no name is left on the checkpoint").doesNotContainValue(checkpointManifest);
    assertThat(contentDigests("node-b")).as("containerd collected the checkpoint")
        .doesNotContain(checkpointManifest, checkpointLayer);
    assertThat(RealCluster.check(Duration.ofSeconds(30), RealCluster.ctr("node-b", "snapshots", "ls")))
        .as("nor is its unpacked layer left").doesNotContain(checkpointLayer);
    assertThat(to.post("/v1/checkpoint-images/retire", new JsonObject().put("image", image), 200)
        .containsKey("startsFrom")).as("retired once, left as it is").isFalse();
    long beforeRestart = counter(restoredId);
    assertThat(beforeRestart).as("the restored counter went on").isPositive();

    for (String pid : Files.readAllLines(RealCluster.cgroup(restoredId).resolve("cgroup.procs"))) {
      ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
    }
    await().atMost(WAIT).until(() -> !RealCluster.containerId(restored).equals(restoredId));
    RealCluster.awaitReady(restored);
    String restartedId = RealCluster.containerId(restored);
    await().atMost(WAIT).until(() -> counter(restartedId) > 0);
    assertThat(RealCluster.readFile(restartedId, "tmp/written-before-the-move"))
        .as("a fresh writable layer from busybox, not the checkpoint's").isEmpty();
    System.out.println("checkpoint image " + image + " retired: " + retired.encode() + "; restored counter "
        + beforeRestart + ", after the restart " + counter(restartedId));
  }

  /**
   * No coordinator settled the image (its destination agent restarted between the import and the release, or the
   * coordinator died for good): the agent's ledger, in its work dir, outlives it, and the next agent on node-b,
   * told to retire checkpoint images a second after their import, retires it at its start. The pod runs on.
   */
  @Test
  void aCheckpointImageNobodySettledIsRetiredByTheNextAgentOnTheNode() throws Exception {
    String containerId = startCounter(source, 0);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = agent(new HostAgent("node-b", dir.resolve("destination"), nodeBArguments("0")));
    Measured measured = migrate(from, to, containerId, "consistent", 0);
    String image = measured.status().getString("checkpointImage");
    String busybox = imageDigests("node-b").get(RealCluster.BUSYBOX_IMAGE);
    String checkpointManifest = imageDigests("node-b").get(image);
    assertThat(checkpointManifest).as("never retired by an agent told never to").isNotNull().isNotEqualTo(busybox);
    String restoredId = RealCluster.containerId(restored);
    long restoredAt = counter(restoredId);
    to.close();
    Thread.sleep(1_000); // older than the next agent's second

    HostAgent next = agent(new HostAgent("node-b", dir.resolve("destination"), nodeBArguments("1")));

    await().atMost(WAIT).until(() -> busybox.equals(imageDigests("node-b").get(image)));
    await().atMost(WAIT).until(() -> next.log().contains("checkpoint image " + image + " retired"));
    assertThat(contentDigests("node-b")).as("containerd collected the checkpoint").doesNotContain(checkpointManifest);
    await().atMost(WAIT).until(() -> counter(restoredId) > restoredAt);
  }

  private List<String> nodeBArguments(String retireAfterSeconds) {
    return List.of("--checkpoint-images", "containerd:" + RealCluster.node("node-b").resolve("containerd.sock"),
        "--ctr", RealCluster.BIN.resolve("ctr").toString(), "--retire-checkpoint-images-after", retireAfterSeconds);
  }

  /** Image name to the digest of its manifest, in a node's containerd (namespace k8s.io). */
  private static Map<String, String> imageDigests(String node) {
    Map<String, String> digests = new java.util.HashMap<>();
    RealCluster.check(Duration.ofSeconds(30), RealCluster.ctr(node, "images", "ls")).lines().skip(1)
        .map(line -> line.trim().split("\\s+")).filter(columns -> columns.length >= 3)
        .forEach(columns -> digests.put(columns[0], columns[2]));
    return digests;
  }

  private static List<String> contentDigests(String node) {
    return RealCluster.check(Duration.ofSeconds(30), RealCluster.ctr(node, "content", "ls")).lines().skip(1)
        .map(line -> line.trim().split("\\s+")[0]).toList();
  }

  /** Writes a file into the container's root through its first process. */
  private static void writeFile(String containerId, String path, String text) throws IOException {
    String pid = Files.readAllLines(RealCluster.cgroup(containerId).resolve("cgroup.procs")).get(0).strip();
    Files.writeString(Path.of("/proc", pid, "root", path), text);
  }

  @Test
  void aDestinationThatRefusesTheImageLetsTheSourceGoOnWithItsState() throws Exception {
    String containerId = startCounter(source, 0);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = destinationAgent(dir.resolve("destination"), "containerd:/nonexistent/containerd.sock");
    Socket client = echoClient(source);
    assertThat(echo(client, "before")).isEqualTo("before");

    JsonObject status = from.awaitEnd(send(from, to, containerId, "consistent"));

    assertThat(status.getString("phase")).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("IMAGE_STORE_FAILED");
    assertTheSourceWentOnWithItsState(containerId, from, client);
  }

  @Test
  void aDestinationNodeThatFallsSilentMidTransferLetsTheSourceGoOnWithItsState() throws Exception {
    String containerId = startCounter(source, 128L * 1024 * 1024);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = nodeBAgent();
    Socket client = echoClient(source);
    assertThat(echo(client, "before")).isEqualTo("before");

    String migrationId = send(from, to, containerId, "consistent");
    // the archive (128 MiB of heap) is on its way: the destination node stops answering, no reset, no FIN
    await().atMost(WAIT).pollInterval(Duration.ofMillis(20))
        .until(() -> from.get("/v1/migrations/" + migrationId).getString("phase"), "TRANSFERRING"::equals);
    to.freeze();
    JsonObject status = from.awaitEnd(migrationId);
    to.kill();

    assertThat(status.getString("phase")).as(status.encode()).isEqualTo("ROLLED_BACK");
    assertTheSourceWentOnWithItsState(containerId, from, client);
    await().atMost(WAIT).untilAsserted(() -> {
      try (var files = Files.list(RealCluster.node("node-a").resolve("kubelet/checkpoints"))) {
        assertThat(files.map(file -> file.getFileName().toString()))
            .as("the source's checkpoint archive is deleted")
            .noneMatch(name -> name.startsWith("checkpoint-" + source + "_"));
      }
    });
  }

  /** The same container counts on (not restarted), nothing held, and its client's connection still answers. */
  private void assertTheSourceWentOnWithItsState(String containerId, HostAgent from, Socket client) throws Exception {
    long resumedAt = counter(containerId);
    await().atMost(WAIT).until(() -> counter(containerId) > resumedAt);
    assertThat(from.getArray("/v1/stopped-containers")).isEmpty();
    assertThat(kubectlCheck("get", "pod", source, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"))
        .as("the same container went on, not a restart").isEqualTo("0");
    assertThat(echo(client, "after")).as("the client's connection, open across the checkpoint, still answers")
        .isEqualTo("after");
  }

  /** A client connection to the pod's echo server (port 9000), closed after the test. */
  private Socket echoClient(String pod) throws IOException {
    String ip = kubectlCheck("get", "pod", pod, "-o", "jsonpath={.status.podIP}").strip();
    Socket socket = await().atMost(WAIT).ignoreExceptions()
        .until(() -> new Socket(ip, 9000), java.util.Objects::nonNull);
    socket.setSoTimeout((int) WAIT.toMillis());
    silent.add(socket);
    return socket;
  }

  private static String echo(Socket socket, String line) throws IOException {
    socket.getOutputStream().write((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
        java.nio.charset.StandardCharsets.UTF_8)).readLine();
  }

  @Test
  void aDestinationPodThatCannotStartLetsTheSourceGoOnAndAnUnsettledHoldExpires() throws Exception {
    String containerId = startCounter(source, 0);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = nodeBAgent();

    JsonObject status = from.awaitEnd(send(from, to, containerId, "consistent"));
    assertThat(status.getString("phase")).isEqualTo("DONE");
    // the destination pod cannot start (its image is not on node-b): the coordinator resumes the source
    RealCluster.apply(counterPod(restored, "node-b", "localhost/ums-no-such-image:" + suffix, 0));
    await().atMost(WAIT).until(() -> kubectl(Duration.ofSeconds(30), "get", "pod", restored, "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.reason}").output().contains("ErrImageNeverPull"));
    long stoppedAt = counter(containerId);
    assertThat(RealCluster.states(containerId)).allMatch(state -> state.endsWith(":T"));
    JsonObject resumed = from.post("/v1/stopped-containers/" + containerId + "/resume", new JsonObject(), 200);
    assertThat(resumed.getString("outcome")).isEqualTo("resumed");
    await().atMost(WAIT).until(() -> counter(containerId) > stoppedAt);
    // and, releasing the destination, has the checkpoint image no pod started from discarded
    String image = status.getString("checkpointImage");
    String checkpointManifest = imageDigests("node-b").get(image);
    assertThat(checkpointManifest).as("imported on node-b").isNotNull();
    JsonObject discarded = to.post("/v1/checkpoint-images/discard", new JsonObject().put("image", image), 200);
    assertThat(discarded.getJsonArray("removed").getList()).contains(image);
    assertThat(imageDigests("node-b")).doesNotContainKey(image).doesNotContainValue(checkpointManifest);
    assertThat(contentDigests("node-b")).as("containerd collected it").doesNotContain(checkpointManifest);
    assertThat(to.post("/v1/checkpoint-images/discard", new JsonObject().put("image", image), 200)
        .getJsonArray("removed")).as("gone already").isEmpty();

    // a second migration whose switch nobody settles: the hold expires and the source goes on
    JsonObject session = to.post("/v1/receive", new JsonObject().put("workloadName", source).put("kind",
        "checkpoint"), 201);
    JsonObject request = sendBody(containerId, "consistent", session.getString("dataAddress"),
        session.getString("sessionId"), session.getString("token"));
    request.getJsonObject("kubelet").put("holdMs", 3000);
    assertThat(from.awaitEnd(from.post("/v1/send", request, 202).getString("migrationId")).getString("phase"))
        .isEqualTo("DONE");
    long heldAt = counter(containerId);
    await().atMost(WAIT).until(() -> counter(containerId) > heldAt);
    assertThat(from.getArray("/v1/stopped-containers")).isEmpty();
    assertThat(from.log()).contains("nobody settled the switch");
  }

  @Test
  void aSourceAgentKilledWhileTheContainerIsStoppedResumesItWhenItStartsAgain() throws Exception {
    String containerId = startCounter(source, 0);
    Path work = dir.resolve("source");
    HostAgent from = sourceAgent(work);
    // a destination that accepts the connection and never answers: the checkpoint happens, the transfer waits
    ServerSocket mute = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
    new Thread(() -> {
      try (mute) {
        silent.add(mute.accept());
      } catch (IOException ignored) {
        // closed by the test
      }
    }, "mute-destination").start();
    JsonObject request = sendBody(containerId, "consistent", "127.0.0.1:" + mute.getLocalPort(),
        UUID.randomUUID().toString(), "AAAA");
    from.post("/v1/send", request, 202);
    await().atMost(WAIT).until(() -> !RealCluster.states(containerId).isEmpty()
        && RealCluster.states(containerId).stream().allMatch(state -> state.endsWith(":T")));
    long stoppedAt = counter(containerId);

    from.kill();
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
        .until(() -> counter(containerId) == stoppedAt);
    assertThat(Files.list(work.resolve("stopped-containers")).toList()).as("the record the next run settles")
        .isNotEmpty();

    HostAgent again = sourceAgent(work);
    await().atMost(WAIT).until(() -> counter(containerId) > stoppedAt);
    assertThat(again.getArray("/v1/stopped-containers")).isEmpty();
    assertThat(again.log()).contains("resumed 1 container(s) a previous run of this agent had stopped");
  }

  /**
   * Overhead of the consistent way against the copy for a pod holding {@code mebibytes} of memory (run with
   * -Dums.measure.pod=true; the figures go to the README). The copy's source runs on after its checkpoint.
   */
  @ParameterizedTest(name = "{0}, {1} MiB")
  @CsvSource({"consistent,64", "copy,64", "consistent,256", "copy,256"})
  @EnabledIfSystemProperty(named = "ums.measure.pod", matches = "true")
  void measure(String mode, int mebibytes) throws Exception {
    // -Dums.measure.modes=consistent measures the consistent way only
    org.junit.jupiter.api.Assumptions.assumeTrue(List.of(System.getProperty("ums.measure.modes", "consistent,copy")
        .split(",")).contains(mode), "mode not asked for");
    long bytes = mebibytes * 1024L * 1024L;
    String containerId = startCounter(source, bytes);
    HostAgent from = sourceAgent(dir.resolve("source"));
    HostAgent to = nodeBAgent();

    Measured measured = migrate(from, to, containerId, mode, bytes);

    long after = counter(containerId);
    if (mode.equals("copy")) {
      await().atMost(WAIT).until(() -> counter(containerId) > after); // a copy's source runs on
    } else {
      from.post("/v1/stopped-containers/" + containerId + "/kill", new JsonObject(), 200);
    }
    String line = "kubelet-" + mode + ", " + mebibytes + " MiB: " + measured + to.log().lines()
        .filter(logged -> logged.contains("streamed into ctr")).map(logged -> "\n  destination: " + logged)
        .collect(java.util.stream.Collectors.joining());
    System.out.println(line);
    Files.writeString(Path.of("target", "pod-migration-measure.txt"), line + "\n",
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
  }

  record Measured(JsonObject status, long totalMs, long podStartMs, long downtimeMs) {
    @Override
    public String toString() {
      JsonObject timings = status.getJsonObject("timings", new JsonObject());
      return "checkpoint " + timings.getLong("dumpMs") + " ms, stopped-to-DONE " + timings.getLong("freezeMs")
          + " ms, transfer " + timings.getLong("transferMs") + " ms, restore (import) " + timings.getLong("restoreMs")
          + " ms, podStart " + podStartMs + " ms, downtime " + downtimeMs + " ms, total " + totalMs + " ms, bytes "
          + status.getJsonObject("bytes", new JsonObject()).getLong("images");
    }
  }

  /**
   * One migration as the coordinator runs it: receive, send, follow to DONE, then the destination pod from the
   * checkpoint image, Ready. Downtime: from the send (the checkpoint stops the container within it) to Ready.
   */
  private Measured migrate(HostAgent from, HostAgent to, String containerId, String mode, long memoryBytes)
      throws Exception {
    long started = System.nanoTime();
    JsonObject status = from.awaitEnd(send(from, to, containerId, mode));
    assertThat(status.getString("phase")).as("source status %s", status.encode()).isEqualTo("DONE");
    long done = System.nanoTime();
    RealCluster.apply(counterPod(restored, "node-b", status.getString("checkpointImage"), memoryBytes));
    RealCluster.awaitReady(restored);
    long ready = System.nanoTime();
    return new Measured(status, (ready - started) / 1_000_000, (ready - done) / 1_000_000,
        (ready - started) / 1_000_000);
  }

  private String send(HostAgent from, HostAgent to, String containerId, String mode) throws Exception {
    JsonObject session = to.post("/v1/receive", new JsonObject().put("workloadName", source).put("kind",
        "checkpoint"), 201);
    return from.post("/v1/send", sendBody(containerId, mode, session.getString("dataAddress"),
        session.getString("sessionId"), session.getString("token")), 202).getString("migrationId");
  }

  private JsonObject sendBody(String containerId, String mode, String address, String sessionId, String token) {
    return new JsonObject()
        .put("kubelet", new JsonObject().put("namespace", "default").put("pod", source).put("container", "c")
            .put("containerId", "containerd://" + containerId).put("mode", mode))
        .put("destination", new JsonObject().put("address", address).put("sessionId", sessionId)
            .put("token", token));
  }

  private HostAgent sourceAgent(Path work) throws IOException {
    return agent(new HostAgent("node-a", work, List.of("--kubelet-url", "https://" + RealCluster.NODE_A_IP
        + ":10250", "--kubelet-token-file", token.toString(), "--kubelet-ca", RealCluster.pki("ca.crt").toString(),
        "--kubelet-checkpoint-dir", RealCluster.node("node-a").resolve("kubelet/checkpoints").toString())));
  }

  /** The destination agent on node-b, importing into node-b's containerd. */
  private HostAgent nodeBAgent() throws IOException {
    return destinationAgent(dir.resolve("destination"), "containerd:" + RealCluster.node("node-b")
        .resolve("containerd.sock"));
  }

  private HostAgent destinationAgent(Path work, String images) throws IOException {
    return agent(new HostAgent("node-b", work, List.of("--checkpoint-images", images,
        "--ctr", RealCluster.BIN.resolve("ctr").toString())));
  }

  private HostAgent agent(HostAgent agent) throws IOException {
    agents.add(agent);
    return agent.start();
  }

  /** The counter pod on node-a, Ready and counting; its container's runtime id. */
  private String startCounter(String pod, long memoryBytes) throws IOException {
    RealCluster.apply(counterPod(pod, "node-a", RealCluster.BUSYBOX_IMAGE, memoryBytes));
    RealCluster.awaitReady(pod);
    String containerId = RealCluster.containerId(pod);
    await().atMost(WAIT).until(() -> counter(containerId) >= 3);
    return containerId;
  }

  /**
   * A busybox awk counter (value in memory, written to /tmp/count ten times a second, by a rename so a reader
   * never sees it half written) that first fills
   * {@code memoryBytes} of its heap with a string.
   */
  static String counterPod(String name, String node, String image, long memoryBytes) {
    String awk = "BEGIN { srand(); b = \\\"\\\"; for (k = 0; k < 512; k++) b = b sprintf(\\\"%08x\\\", int(rand()"
        + " * 4294967295)); s = b; while (length(s) < " + memoryBytes + ") s = s s; i = 0; while (1) { i++;"
        + " print i > \\\"/tmp/count.new\\\"; close(\\\"/tmp/count.new\\\");"
        + " system(\\\"mv /tmp/count.new /tmp/count; sleep 0.1\\\") } }";
    // and an echo server on port 9000, for a client connection open across the checkpoint
    String script = "/bin/busybox nc -ll -p 9000 -e /bin/busybox cat & exec /bin/busybox awk '" + awk + "'";
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default}\nspec:\n"
        + "  nodeName: " + node + "\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n"
        + "    image: " + image + "\n    imagePullPolicy: Never\n"
        + "    command: [\"/bin/busybox\", \"sh\", \"-c\", \"" + script + "\"]\n";
  }

  private static long counter(String containerId) throws IOException {
    Optional<String> value = RealCluster.readFile(containerId, "tmp/count");
    return value.filter(text -> text.matches("\\d+")).map(Long::parseLong).orElse(-1L);
  }
}
