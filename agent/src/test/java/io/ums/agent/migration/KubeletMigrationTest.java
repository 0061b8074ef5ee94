package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The orchestrator-level approach end to end: two real agent JVMs in two network namespaces (prefix "kl"),
 * real podman pods in those namespaces standing in for the nodes' pods, a real checkpoint by podman behind a
 * MOCK kubelet endpoint (only the kubelet is mocked: it cannot run here), the archive over the real data plane,
 * and the destination's checkpoint image imported into the real containers-storage. That image is then really
 * restored with {@code podman container restore <image>} into a pod on the destination node: the stand-in for
 * CRI-O restoring the destination pod whose container image is the checkpoint image.
 */
@Tag("slow")
class KubeletMigrationTest {
  private static final int PORT = 17031;
  private static final String NAMESPACE = "default";
  private static final String CONTAINER = "memservice";

  @TempDir
  Path dir;
  private NetworkTestbed network;
  private PodmanPods pods;
  private MockKubelet kubelet;
  private Path checkpointDir;
  private AgentProcess a;
  private AgentProcess b;

  @BeforeEach
  void setUp() throws Exception {
    network = NetworkTestbed.create("kl", 2);
    pods = new PodmanPods(dir);
    checkpointDir = Files.createDirectories(dir.resolve("kubelet-checkpoints"));
    kubelet = MockKubelet.start(dir.resolve("kubelet"), network.hostAddress(), checkpointDir, pods);
    Files.writeString(dir.resolve("token"), MockKubelet.TOKEN + "\n");
    a = startSourceAgent();
    b = new AgentProcess(network.node(1), dir.resolve("agent-b"), List.of()).start(10);
  }

  /** Agent A with the kubelet approach: the mock kubelet's URL and CA, a token, the checkpoint directory. */
  private AgentProcess startSourceAgent() throws Exception {
    return new AgentProcess(network.node(0), dir.resolve("agent-a"), List.of(), List.of(
        "--kubelet-url", kubelet.url(), "--kubelet-token-file", dir.resolve("token").toString(),
        "--kubelet-ca", kubelet.caPem().toString(), "--kubelet-checkpoint-dir", checkpointDir.toString()))
        .start(10);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable closeable : new AutoCloseable[] {a, b, kubelet, pods}) {
      if (closeable != null) {
        try {
          closeable.close();
        } catch (Exception e) {
          // the rest still gets cleaned up
        }
      }
    }
    if (network != null) {
      network.close();
    }
  }

  @Test
  void movesAPodsContainerThroughTheKubeletAndTheCheckpointImageRestoresOnTheDestination() throws Exception {
    String pod = pods.podName("web");
    startSourcePod(pod, 64);
    assertThat(a.get("/v1/info").getJsonArray("runtimes").getList()).contains("kubelet");
    assertThat(a.get("/v1/info").getJsonObject("kubelet").getBoolean("configured")).isTrue();
    assertThat(b.get("/v1/info").getString("checkpointImages")).isEqualTo("containers-storage");
    MemServiceClient.Answer before = MemServiceClient.verify(network.node(0).address(), PORT, 10_000);

    JsonObject session = receive(pod);
    JsonObject status = a.post("/v1/send?wait=true", sendBody(pod, session), 200);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    String image = status.getString("checkpointImage");
    pods.removeOnClose(image);
    assertThat(image).startsWith("localhost/ums-checkpoint/" + pod + "-" + CONTAINER + ":");
    assertThat(status.getJsonObject("bytes").getLong("images")).isGreaterThan(64L << 20);
    assertThat(status.getJsonObject("timings").getLong("dumpMs")).isNotNull();
    assertThat(status.getJsonObject("timings").getLong("restoreMs")).isNotNull();
    System.out.printf("kubelet migration: archive %d bytes, kubelet checkpoint %d ms (podman %d ms), "
        + "transfer %d ms, image import %d ms, total %d ms%n", status.getJsonObject("bytes").getLong("images"),
        status.getJsonObject("timings").getLong("dumpMs"), kubelet.lastCheckpointMillis(),
        status.getJsonObject("timings").getLong("transferMs"), status.getJsonObject("timings").getLong("restoreMs"),
        status.getJsonObject("timings").getLong("totalMs"));
    JsonObject destination = b.get("/v1/migrations/" + session.getString("sessionId"));
    assertThat(destination.getString("phase")).isEqualTo("DONE");
    assertThat(destination.getString("checkpointImage")).isEqualTo(image);
    assertThat(PodmanPods.imageExists(image)).isTrue();
    assertNoArchivesLeft();
    // the kubelet leaves the source running; the coordinator deletes that pod, not the agent
    assertThat(pods.running(pod, CONTAINER)).isTrue();

    String restoredPod = pods.podName("web-restored");
    pods.createPod(network.node(1), restoredPod);
    pods.restoreFromImage(restoredPod, CONTAINER, image);
    MemServiceClient.Answer after = awaitAnswer(network.node(1));
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
  }

  /**
   * The archive is sent while the kubelet's runtime still writes it: the mock writes half of it, and the rest only
   * once the source agent claimed it (it claims the file it starts reading); without the tail the source would
   * find it only in the kubelet's answer, after the whole file. The image restores with the source's memory.
   */
  @Test
  void anArchiveTheKubeletIsStillWritingIsSentAsItGrowsAndRestores() throws Exception {
    String pod = pods.podName("growing");
    startSourcePod(pod, 16);
    MemServiceClient.Answer before = MemServiceClient.verify(network.node(0).address(), PORT, 10_000);
    Path claims = a.workDir.resolve("kubelet-archives");
    kubelet.writeSlowly(() -> {
      try {
        return !list(claims).isEmpty();
      } catch (Exception e) {
        return false;
      }
    });

    JsonObject session = receive(pod);
    JsonObject status = a.post("/v1/send?wait=true", sendBody(pod, session), 200);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(kubelet.readWhileWriting()).as("the source read the archive before the kubelet finished it").isTrue();
    String image = status.getString("checkpointImage");
    pods.removeOnClose(image);
    assertNoArchivesLeft();
    String restoredPod = pods.podName("growing-restored");
    pods.createPod(network.node(1), restoredPod);
    pods.restoreFromImage(restoredPod, CONTAINER, image);
    MemServiceClient.Answer after = awaitAnswer(network.node(1));
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
  }

  @Test
  void kubeletRefusalsFailWithTheirReasonAndLeaveNothingBehind() throws Exception {
    String pod = pods.podName("refused");
    record Case(MockKubelet.Answer answer, String token, String code, String message) {}
    for (Case refusal : List.of(
        new Case(MockKubelet.Answer.FORBIDDEN, MockKubelet.TOKEN, "KUBELET_FORBIDDEN",
            "needs create on nodes/checkpoint"),
        new Case(MockKubelet.Answer.NOT_FOUND, MockKubelet.TOKEN, "KUBELET_NOT_FOUND",
            "ContainerCheckpoint feature gate is off"),
        new Case(MockKubelet.Answer.CHECKPOINT, "a-wrong-token", "KUBELET_FORBIDDEN", "401 Unauthorized"))) {
      kubelet.answer(refusal.answer());
      Files.writeString(dir.resolve("token"), refusal.token());
      JsonObject session = receive(pod);
      JsonObject status = a.post("/v1/send?wait=true", sendBody(pod, session), 200);

      assertThat(status.getString("phase")).as(refusal.toString()).isEqualTo("FAILED");
      assertThat(status.getJsonObject("error").getString("code")).isEqualTo(refusal.code());
      assertThat(status.getJsonObject("error").getString("message")).contains(refusal.message());
      JsonObject destination = awaitFinal(b, session.getString("sessionId"));
      assertThat(destination.getString("phase")).as("destination of " + refusal).isEqualTo("FAILED");
      assertThat(destination.containsKey("checkpointImage")).isFalse();
      assertNoArchivesLeft();
    }
    assertThat(PodmanPods.imageExists("localhost/ums-checkpoint/" + pod + "-" + CONTAINER)).isFalse();
  }

  @Test
  void aLinkCutMidTransferDeletesTheArchiveKeepsTheSourceRunningAndLeavesNoPartialFiles() throws Exception {
    String pod = pods.podName("cut");
    JsonObject session = receive(pod);
    String migrationId = startSlowMigrationAndAwaitMidTransfer(pod, session);
    network.setLinkUp(network.node(1), false);

    JsonObject status = awaitFinal(a, migrationId);
    // the test reaches agent b's control API over the same link
    network.setLinkUp(network.node(1), true);
    JsonObject destination = awaitFinal(b, session.getString("sessionId"));
    assertThat(status.getString("phase")).isEqualTo("FAILED");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("CONNECTION_LOST");
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertNoArchivesLeft();
    assertThat(pods.running(pod, CONTAINER)).isTrue();
    assertThat(MemServiceClient.query(network.node(0).address(), PORT, 5000).counter()).isPositive();
    assertThat(PodmanPods.imageExists("localhost/ums-checkpoint/" + pod + "-" + CONTAINER)).isFalse();
  }

  @Test
  void anArchiveTheKubeletWritesAfterTheSourceGaveUpIsDeletedToo() throws Exception {
    String pod = pods.podName("late");
    startSourcePod(pod, 16);
    kubelet.delay(3000);
    JsonObject session = receive(pod);
    String migrationId = a.post("/v1/send", sendBody(pod, session), 202).getString("migrationId");
    JsonObject second = receive(pod);
    assertThat(a.post("/v1/send", sendBody(pod, second), 409).getString("message")).contains("already migrating");
    b.post("/v1/migrations/" + second.getString("sessionId") + "/abort", new JsonObject(), 202);
    a.post("/v1/migrations/" + migrationId + "/abort", new JsonObject(), 202);

    JsonObject status = awaitFinal(a, migrationId);
    assertThat(status.getString("phase")).isEqualTo("FAILED");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("ABORTED");
    assertThat(awaitFinal(b, session.getString("sessionId")).getString("phase")).isEqualTo("FAILED");
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> kubelet.checkpointsWritten() == 1);
    assertNoArchivesLeft();
  }

  @Test
  void anAbortOnTheDestinationMidTransferEndsBothSidesAndLeavesNothing() throws Exception {
    String pod = pods.podName("aborted");
    JsonObject session = receive(pod);
    String migrationId = startSlowMigrationAndAwaitMidTransfer(pod, session);
    b.post("/v1/migrations/" + session.getString("sessionId") + "/abort", new JsonObject(), 202);

    JsonObject destination = awaitFinal(b, session.getString("sessionId"));
    JsonObject status = awaitFinal(a, migrationId);
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(destination.getJsonObject("error").getString("code")).isEqualTo("ABORTED");
    assertThat(status.getString("phase")).isEqualTo("FAILED");
    assertThat(status.getJsonObject("error").getString("message")).contains("aborted by request");
    assertNoArchivesLeft();
    assertThat(pods.running(pod, CONTAINER)).isTrue();
  }

  @Test
  void aDestinationKilledMidTransferLeavesTheSourceRunningAndNoFilesOnEitherSide() throws Exception {
    String pod = pods.podName("killed");
    String migrationId = startSlowMigrationAndAwaitMidTransfer(pod, receive(pod));
    b.kill();

    JsonObject status = awaitFinal(a, migrationId);
    assertThat(status.getString("phase")).isEqualTo("FAILED");
    assertThat(status.getJsonObject("error").getString("code")).isIn("CONNECTION_LOST", "PROTOCOL_ERROR");
    assertThat(pods.running(pod, CONTAINER)).isTrue();
    assertThat(MemServiceClient.query(network.node(0).address(), PORT, 5000).counter()).isPositive();
    // the killed agent could not clean up; the next one on the same work dir removes the partial archive
    assertThat(list(b.workDir.resolve(KubeletDestination.SESSIONS_DIR))).as("partial archive of the killed agent")
        .isNotEmpty();
    b = new AgentProcess(network.node(1), dir.resolve("agent-b"), List.of()).start(10);
    assertNoArchivesLeft();
    assertThat(PodmanPods.imageExists("localhost/ums-checkpoint/" + pod + "-" + CONTAINER)).isFalse();
  }

  /**
   * A 128 MiB memory service in a pod on node A, the links limited to 40 mbit/s (its ~130 MB archive takes
   * half a minute), a kubelet migration into {@code session} started and 8 MiB of the archive sent.
   */
  private String startSlowMigrationAndAwaitMidTransfer(String pod, JsonObject session) throws Exception {
    startSourcePod(pod, 128);
    network.limitRate("40mbit");
    String migrationId = a.post("/v1/send", sendBody(pod, session), 202).getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> a.get("/v1/migrations/" + migrationId).getJsonObject("bytes").getLong("images"),
            sent -> sent > (8L << 20));
    return migrationId;
  }

  /** Pod {@code pod} on node A with the memory service ({@code mib} of random memory) answering. */
  private void startSourcePod(String pod, int mib) throws Exception {
    pods.createPod(network.node(0), pod);
    pods.runMemService(pod, CONTAINER, PORT, mib, mib + 7);
    awaitAnswer(network.node(0));
  }

  @Test
  void aSourceAgentKilledMidTransferHasItsArchiveDeletedByTheNextOne() throws Exception {
    String pod = pods.podName("orphan");
    JsonObject session = receive(pod);
    startSlowMigrationAndAwaitMidTransfer(pod, session);
    a.kill();
    assertThat(list(checkpointDir)).as("the archive the killed agent was sending").hasSize(1);

    a = startSourceAgent();
    assertNoArchivesLeft();
    assertThat(pods.running(pod, CONTAINER)).isTrue();
    assertThat(awaitFinal(b, session.getString("sessionId")).getString("phase")).isEqualTo("FAILED");
  }

  private JsonObject receive(String pod) throws Exception {
    return b.post("/v1/receive", new JsonObject().put("kind", "checkpoint")
        .put("workloadName", NAMESPACE + "/" + pod + "/" + CONTAINER), 201);
  }

  private static JsonObject sendBody(String pod, JsonObject session) {
    return new JsonObject()
        .put("kubelet", new JsonObject().put("namespace", NAMESPACE).put("pod", pod).put("container", CONTAINER))
        .put("destination", new JsonObject().put("address", session.getString("dataAddress"))
            .put("sessionId", session.getString("sessionId")).put("token", session.getString("token")));
  }

  private static JsonObject awaitFinal(AgentProcess agent, String id) {
    return Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> agent.get("/v1/migrations/" + id),
            status -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(status.getString("phase")));
  }

  private static MemServiceClient.Answer awaitAnswer(NetworkTestbed.Node node) {
    return Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(node.address(), PORT, 10_000), answer -> true);
  }

  /** No archive in the kubelet's directory (source), no session files in the destination's work dir. */
  private void assertNoArchivesLeft() throws Exception {
    Awaitility.await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
      assertThat(list(checkpointDir)).as("kubelet checkpoint dir").isEmpty();
      assertThat(list(b.workDir.resolve(KubeletDestination.SESSIONS_DIR))).as("destination sessions")
          .isEmpty();
    });
  }

  private static List<Path> list(Path directory) throws Exception {
    if (!Files.exists(directory)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(directory)) {
      return files.filter(path -> !path.equals(directory)).toList();
    }
  }
}
