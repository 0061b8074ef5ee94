package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import io.ums.testkit.BusyboxImages;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runc container migration end to end: two agent JVMs in two network namespaces (prefix "uct"), images in
 * each agent's OCI store, real runc + CRIU, the C memory service in a busybox container. Layers travel by
 * digest and only when missing; the writable layer travels as a diff.
 */
@Tag("slow")
class ContainerMigrationTest {
  private static final int PORT = 17011;

  @TempDir
  Path dir;
  private NetworkTestbed network;
  private AgentProcess a;
  private AgentProcess b;

  @BeforeEach
  void setUp() throws Exception {
    network = NetworkTestbed.create("uct", 2);
    a = new AgentProcess(network.node(0), dir.resolve("agent-a"), List.of()).start(10);
    b = new AgentProcess(network.node(1), dir.resolve("agent-b"), List.of()).start(10);
    importImage(a, "busybox", BusyboxImages.baseLayer(dir), null);
    importImage(a, "memservice", BusyboxImages.memServiceLayer(dir), "busybox");
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      for (AgentProcess agent : new AgentProcess[] {a, b}) {
        if (agent != null) {
          cleanUp(agent);
        }
      }
    } finally {
      // also after a failed clean-up (an agent a test killed answers nothing): no namespace stays behind
      if (network != null) {
        network.close();
      }
    }
  }

  private static void cleanUp(AgentProcess agent) throws Exception {
    try {
      for (Object workload : agent.getArray("/v1/workloads")) {
        agent.delete("/v1/workloads/" + ((JsonObject) workload).getString("id"));
      }
    } catch (java.io.IOException e) {
      // a killed agent: its containers go below
    } finally {
      agent.close();
      agent.killSessionProcesses();
      removeLeftoverContainers(agent.workDir);
    }
  }

  @Test
  void migratesA256MiBContainerWithItsWritableLayerThenSendsOnlyMissingLayers() throws Exception {
    JsonObject workload = launch(a, "memservice", 256);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);

    JsonObject status = migrate(a, b, workload.getString("id"));
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    MemServiceClient.Answer after = MemServiceClient.verify(b.node.address(), PORT, 10000);
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(after.checksum()).isEqualTo(before.checksum());
    String restoredId = status.getString("destinationWorkloadId");
    Path rootfs = b.workDir.resolve("containers").resolve(restoredId).resolve("bundle/rootfs");
    assertThat(Files.readString(rootfs.resolve("data/kept.txt"))).isEqualTo("kept-5\n");
    assertThat(rootfs.resolve(BusyboxImages.DELETABLE_FILE.substring(1))).doesNotExist();
    assertThat(a.getArray("/v1/workloads")).isEmpty();
    assertThat(b.get("/v1/workloads/" + restoredId).getString("kind")).isEqualTo("container");
    JsonObject bytes = status.getJsonObject("bytes");
    long allLayers = a.get("/v1/images/memservice").getLong("size");
    assertThat(bytes.getLong("layerBytesSent")).isEqualTo(allLayers);
    assertThat(bytes.getLong("layerBytesSkipped")).isZero();
    assertThat(bytes.getLong("pages")).isGreaterThan(256L << 20);
    assertThat(status.getJsonObject("timings").fieldNames()).contains("freezeMs", "dumpMs", "transferMs",
        "restoreMs", "downtimeMs", "totalMs");
    System.out.printf("runc 256 MiB migration: timings %s bytes %s%n", status.getJsonObject("timings"), bytes);
    assertNoSessionFiles();

    // a second image sharing the base layer: only its own top layer goes on the wire
    Path otherTop = variantLayer("second");
    importImage(a, "memservice2", otherTop, "busybox");
    long baseSize = a.get("/v1/images/busybox").getLong("size");
    JsonObject second = launch(a, "memservice2", 16, PORT + 1);
    JsonObject secondStatus = migrate(a, b, second.getString("id"));
    assertThat(secondStatus.getString("phase")).as(secondStatus.encodePrettily()).isEqualTo("DONE");
    JsonObject secondBytes = secondStatus.getJsonObject("bytes");
    assertThat(secondBytes.getLong("layerBytesSkipped")).isGreaterThanOrEqualTo(baseSize);
    assertThat(secondBytes.getLong("layerBytesSent")).isLessThanOrEqualTo((long) (Files.size(otherTop) * 1.01));
    System.out.printf("second container: layerBytesSent %d (top layer %d), layerBytesSkipped %d (base %d)%n",
        secondBytes.getLong("layerBytesSent"), Files.size(otherTop), secondBytes.getLong("layerBytesSkipped"),
        baseSize);
    MemServiceClient.verify(b.node.address(), PORT + 1, 10000);
  }

  /**
   * runc has no flags for CRIU's ghost-file limit: the container's CRIU configuration file carries it. The
   * memory service here holds a 4 MiB file it already deleted (CRIU's default limit: 1 MiB).
   */
  @Test
  void aContainerHoldingADeletedFileMoves() throws Exception {
    JsonObject workload = a.post("/v1/workloads", new JsonObject().put("name", "ghost").put("kind", "container")
        .put("runtime", "runc").put("image", "memservice")
        .put("command", new JsonArray(List.of("/bin/sh", "-c", "dd if=/dev/urandom of=/data/scratch bs=1M count=4"
            + " 2>/dev/null && exec 3</data/scratch && rm /data/scratch && exec /memservice " + PORT + " 16 7"))), 201);
    MemServiceClient.Answer before = Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(a.node.address(), PORT, 1000), answer -> true);

    JsonObject status = migrate(a, b, workload.getString("id"));

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(MemServiceClient.verify(b.node.address(), PORT, 5000).checksum()).isEqualTo(before.checksum());
    long restoredPid = b.get("/v1/workloads/" + status.getString("destinationWorkloadId")).getLong("pid");
    assertThat(HostCommand.run(List.of("readlink", "/proc/" + restoredPid + "/fd/3")).output())
        .as("the restored memory service still holds the deleted file").endsWith("(deleted)");
  }

  /**
   * A client holds a connection to the container on A's address. It cannot follow (the destination
   * restores it closed); what matters is that the client learns so at once rather than hanging on CRIU's
   * lock rules, and that no lock rule stays on A.
   */
  @Test
  void aClientConnectionToTheMovedContainerEndsAtOnceAndNoLockRuleStays() throws Exception {
    JsonObject workload = launch(a, "memservice", 16);
    try (java.net.Socket client = new java.net.Socket()) {
      client.connect(new java.net.InetSocketAddress(a.node.address(), PORT), 2000);
      client.setSoTimeout(3000);
      java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(client.getInputStream(),
          java.nio.charset.StandardCharsets.US_ASCII));
      client.getOutputStream().write("c\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      assertThat(in.readLine()).as("answer before the migration").isNotNull();

      JsonObject status = migrate(a, b, workload.getString("id"));

      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      assertThat(HostCommand.run(a.node.inNode(List.of("iptables", "-S"))).output())
          .as("CRIU lock rules left on the source node").doesNotContain("0xc114");
      long started = System.nanoTime();
      boolean answered;
      try {
        client.getOutputStream().write("c\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        answered = in.readLine() != null;
      } catch (java.io.IOException ended) {
        answered = false;
      }
      assertThat(answered).as("the old connection answers").isFalse();
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as("until the client knew")
          .isLessThan(Duration.ofSeconds(2));
    }
    assertThat(MemServiceClient.query(b.node.address(), PORT, 5000)).isNotNull();
  }

  /**
   * Kill -9 of the destination agent once runc restored the container (issue 15, item 1, for containers):
   * the source rolls back and resumes, and the copy dies with the agent (its restore guard), so exactly one
   * memory service runs, the source's; a restarted destination agent lists nothing.
   */
  @Test
  void killingTheDestinationAgentOnceTheContainerIsRestoredLeavesOneCopyOnTheSource() throws Exception {
    killDestinationOnceRestored("runc", 256, session -> {
      // runc restored the copy (its pid file), the agent has not handed it over yet
      Path pidFile = b.sessionRoot.resolve("recv-" + session.getString("sessionId")).resolve("restore-work")
          .resolve("restored.pid");
      Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(1))
          .until(() -> Files.exists(pidFile));
    });
  }

  /** The same with podman, which keeps the restored container itself: the guard removes it. */
  @Test
  void killingTheDestinationAgentOnceThePodmanContainerIsRestoredLeavesOneCopyOnTheSource() throws Exception {
    killDestinationOnceRestored("podman", 128, session -> Awaitility.await().atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(5)).until(() -> !memServicesOn(b).isEmpty()));
  }

  /**
   * Post-copy: killed as soon as {@code runc restore --lazy-pages} is started, before it wrote its pid file:
   * the restore (tethered, see RestoreGuard) dies with the agent and takes what CRIU restored so far with it,
   * and the lazy-pages daemon goes only after that; the source thaws its paused container.
   */
  @Test
  void killingTheDestinationAgentWhileRuncRestoresPostCopyLeavesOneCopyOnTheSource() throws Exception {
    killDestinationOnceRestored("runc", 256, "post-copy", session -> Awaitility.await()
        .atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(2))
        .until(() -> b.sessionProcesses().stream().anyMatch(AgentProcess::isRestoring)));
  }

  private interface Moment {
    void await(JsonObject session) throws Exception;
  }

  private void killDestinationOnceRestored(String runtime, int mib, Moment moment) throws Exception {
    killDestinationOnceRestored(runtime, mib, "stop-and-copy", moment);
  }

  private void killDestinationOnceRestored(String runtime, int mib, String mode, Moment moment) throws Exception {
    JsonObject workload = launch(a, "memservice", mib, PORT, runtime);
    String checksum = MemServiceClient.verify(a.node.address(), PORT, 10000).checksum();
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container").put("mode", mode), 201);
    String migrationId = a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", mode), 202).getString("migrationId");
    moment.await(session);
    b.kill();

    JsonObject status = Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .ignoreExceptions().until(() -> a.get("/v1/migrations/" + migrationId),
            s -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(s.getString("phase")));
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .untilAsserted(() -> assertThat(memServicesOn(b)).as("copies on the destination").isEmpty());
    assertThat(memServicesOn(a)).as("the source").hasSize(1);
    assertThat(MemServiceClient.verify(a.node.address(), PORT, 10000).checksum()).isEqualTo(checksum);

    // nothing of the session lives on: no page server, no restore, no import pipe (issue 15, item 1)
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(b.sessionProcesses()).as("processes of the dead agent's sessions").isEmpty());
    b.start(10);
    assertThat(b.getArray("/v1/workloads")).isEmpty();
    assertThat(memServicesOn(b)).isEmpty();
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(b.sessionFiles()).as("session files after the restart").isEmpty());
  }

  /** Host PIDs of memory services in {@code agent}'s node's network namespace (its containers run there). */
  private static List<Long> memServicesOn(AgentProcess agent) throws java.io.IOException {
    String netns = "net:[" + Files.getAttribute(Path.of(agent.node.netnsPath()), "unix:ino") + "]";
    try (java.util.stream.Stream<Path> processes = Files.list(Path.of("/proc"))) {
      return processes.filter(path -> path.getFileName().toString().chars().allMatch(Character::isDigit))
          .filter(path -> {
            try {
              return Files.readString(path.resolve("comm")).trim().equals("memservice")
                  && Files.readSymbolicLink(path.resolve("ns/net")).toString().equals(netns);
            } catch (java.io.IOException e) {
              return false;
            }
          })
          .map(path -> Long.parseLong(path.getFileName().toString())).sorted().toList();
    }
  }

  /**
   * A client outside the node that sends nothing more and waits for the server (issue 15, item 6, for a
   * runc container): its connection cannot follow, and when the source container is removed the client is
   * told (end-of-file or reset) at once, not at its read timeout.
   */
  @Test
  void aClientWaitingInSilenceIsToldWhenTheSourceContainerGoes() throws Exception {
    JsonObject workload = launch(a, "memservice", 16);
    try (java.net.Socket client = new java.net.Socket()) {
      client.connect(new java.net.InetSocketAddress(a.node.address(), PORT), 2000);
      client.setSoTimeout(20_000);
      java.io.InputStream in = client.getInputStream();
      client.getOutputStream().write("c\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      assertThat(new java.io.BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.US_ASCII))
          .readLine()).as("answer before the migration").isNotNull();
      java.util.concurrent.CompletableFuture<Long> toldAt = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try {
          in.read(); // blocks until the connection ends: end-of-file or reset
        } catch (java.io.IOException ended) {
          // a reset, or the read timeout (then toldAt is far too late)
        }
        return System.nanoTime();
      });

      JsonObject status = migrate(a, b, workload.getString("id"));
      long done = System.nanoTime();

      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      long told = toldAt.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(Duration.ofNanos(told - done)).as("from DONE until the client knew").isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void keepLeavesTheSourceRunningBesideTheCopy() throws Exception {
    JsonObject workload = launch(a, "memservice", 16);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container"), 201);
    JsonObject status = a.post("/v1/send?wait=true", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("keep", true), 200);
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(MemServiceClient.verify(a.node.address(), PORT, 5000).checksum()).isEqualTo(before.checksum());
    assertThat(MemServiceClient.verify(b.node.address(), PORT, 5000).checksum()).isEqualTo(before.checksum());
    assertThat(a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
  }

  @Test
  void aCorruptedLayerIsRefusedAndTheSourceResumes() throws Exception {
    importImage(a, "corrupt", variantLayer("corrupt"), "busybox");
    JsonObject workload = launch(a, "corrupt", 32);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    // the container runs from its unpacked layers; the blob in the store rots afterwards
    String topDigest = a.get("/v1/images/corrupt").getJsonArray("layers").getJsonObject(1).getString("digest");
    Path blob = a.workDir.resolve("images/blobs/sha256").resolve(topDigest.substring("sha256:".length()));
    try (RandomAccessFile file = new RandomAccessFile(blob.toFile(), "rw")) {
      file.seek(file.length() / 2);
      int original = file.read();
      file.seek(file.length() / 2);
      file.write(original ^ 0x5a);
    }

    JsonObject status = migrate(a, b, workload.getString("id"));
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isIn("LAYER_DIGEST_MISMATCH");
    MemServiceClient.Answer resumed = Awaitility.await().atMost(Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(a.node.address(), PORT, 500), any -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(b.getArray("/v1/workloads")).isEmpty();
    assertThat(b.getArray("/v1/images")).isEmpty();
    assertThat(Files.list(b.workDir.resolve("images/blobs/sha256")).toList()).isEmpty();
    assertThat(b.workDir.resolve("layers")).satisfiesAnyOf(
        layers -> assertThat(layers).doesNotExist(),
        layers -> assertThat(layers).isEmptyDirectory());
    assertNoSessionFiles();
  }

  /**
   * kill -9 of the source agent mid-transfer: the container stays frozen (the agent froze it, nobody thaws it)
   * until the restarted agent settles its record: the destination could not run it, so it thaws.
   */
  @Test
  void aSourceAgentKilledMidTransferIsThawedByItsRestartedAgent() throws Exception {
    JsonObject workload = launch(a, "memservice", 128);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    network.limitRate("100mbit");
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container"), 201);
    String migrationId = a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session), 202)
        .getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> a.get("/v1/migrations/" + migrationId).getJsonObject("bytes").getLong("pages"),
            pages -> pages >= 16L << 20);

    a.kill();
    network.limitRate("unlimited");
    a.start(10);

    MemServiceClient.Answer resumed = Awaitility.await().atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(a.node.address(), PORT, 2000), any -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    assertThat(a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
    assertThat(a.getArray("/v1/stopped-sources")).isEmpty();
    assertThat(b.getArray("/v1/workloads")).isEmpty();
    assertNoSessionFiles();
  }

  /**
   * kill -9 of the source agent after the destination restored the container and the source took the result
   * (held there by the fault hook): the restarted agent keeps its copy frozen until the verdict, then removes it.
   */
  @Test
  void aSourceAgentKilledAfterTheRestoreKeepsItsCopyFrozenUntilTheVerdictThenRemovesIt() throws Exception {
    sourceAgentKilledAfterTheRestore("runc");
  }

  /**
   * The same with podman, whose checkpoint stops the container: the restarted agent must not restore it from
   * podman's kept checkpoint before the verdict (two copies), and removes it on the verdict.
   */
  @Test
  void aSourceAgentKilledAfterThePodmanRestoreKeepsItsCheckpointUntilTheVerdictThenRemovesIt() throws Exception {
    sourceAgentKilledAfterTheRestore("podman");
  }

  private void sourceAgentKilledAfterTheRestore(String runtime) throws Exception {
    a.close();
    a = new AgentProcess(network.node(0), dir.resolve("agent-a"), List.of("-Dums.test.holdBeforeCommit=true"))
        .start(10);
    JsonObject workload = launch(a, "memservice", 32, PORT, runtime);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container"), 201);
    String migrationId = a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session), 202)
        .getString("migrationId");
    JsonObject restored = Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(50))
        .ignoreExceptions().until(() -> b.get("/v1/migrations/" + session.getString("sessionId")),
            status -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(status.getString("phase")));
    assertThat(restored.getString("phase")).as(restored.encode()).isEqualTo("DONE");
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> a.log().contains("holds before its commit"));

    a.kill();
    a.start(10);
    assertThat(a.getArray("/v1/stopped-sources").stream().map(JsonObject.class::cast)
        .map(held -> held.getString("migrationId")).toList()).containsExactly(migrationId);
    Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
        .until(() -> !answers(a.node.address()));

    JsonObject outcome = a.post("/v1/stopped-sources/" + migrationId + "/kill", new JsonObject(), 200);
    assertThat(outcome.getString("outcome")).isEqualTo("killed");
    assertThat(a.getArray("/v1/workloads")).isEmpty();
    MemServiceClient.Answer moved = MemServiceClient.verify(b.node.address(), PORT, 10000);
    assertThat(moved.checksum()).isEqualTo(before.checksum());
    assertThat(answers(a.node.address())).as("exactly one copy runs").isFalse();
    if (runtime.equals("podman")) {
      assertThat(HostCommand.run("podman", "container", "exists", workload.getString("id")).ok())
          .as("the checkpointed source container is gone").isFalse();
    }
    assertNoSessionFiles();
  }

  private static boolean answers(String address) {
    try {
      MemServiceClient.query(address, PORT, 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void theDestinationStoreDeletedMidTransferRollsBackAndLeavesNothing() throws Exception {
    JsonObject workload = launch(a, "memservice", 128);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    network.limitRate("200mbit");
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container"), 201);
    String migrationId = a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session), 202)
        .getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> a.get("/v1/migrations/" + migrationId).getJsonObject("bytes").getLong("pages"),
            pages -> pages >= 16L << 20);
    HostCommand.check("rm", "-rf", b.workDir.resolve("images").toString());

    JsonObject status = Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(50))
        .ignoreExceptions().until(() -> a.get("/v1/migrations/" + migrationId),
            current -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(current.getString("phase")));
    network.limitRate("unlimited");
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("IMAGE_STORE_FAILED");
    MemServiceClient.Answer resumed = Awaitility.await().atMost(Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(a.node.address(), PORT, 500), any -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(b.getArray("/v1/workloads")).isEmpty();
    for (String leftover : List.of("containers", "layers")) {
      assertThat(b.workDir.resolve(leftover)).as(leftover).satisfiesAnyOf(
          path -> assertThat(path).doesNotExist(),
          path -> assertThat(path).isEmptyDirectory());
    }
    assertNoSessionFiles();
  }

  @Test
  void migratesAPodmanContainerWithItsCheckpointArchiveStreamed() throws Exception {
    JsonObject workload = launch(a, "memservice", 128, PORT, "podman");
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);

    JsonObject status = migrate(a, b, workload.getString("id"));
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    MemServiceClient.Answer after = MemServiceClient.verify(b.node.address(), PORT, 10000);
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(after.checksum()).isEqualTo(before.checksum());
    String restoredId = status.getString("destinationWorkloadId");
    assertThat(HostCommand.check("podman", "exec", restoredId, "cat", "/data/kept.txt")).isEqualTo("kept-5");
    assertThat(HostCommand.run("podman", "exec", restoredId, "ls", BusyboxImages.DELETABLE_FILE).ok()).isFalse();
    assertThat(HostCommand.run("podman", "container", "exists", workload.getString("id")).ok()).isFalse();
    assertThat(b.get("/v1/workloads/" + restoredId).getString("runtime")).isEqualTo("podman");
    assertThat(status.getJsonObject("bytes").getLong("pages")).isGreaterThan(128L << 20);
    System.out.printf("podman 128 MiB migration: timings %s bytes %s%n", status.getJsonObject("timings"),
        status.getJsonObject("bytes"));
    assertNoSessionFiles();
  }

  /**
   * Post-copy of a runc container (issue 14): {@code runc checkpoint --lazy-pages} of the paused container,
   * {@code runc restore --lazy-pages} on the destination with the daemon's pages over the UMS connection.
   */
  @Test
  void movesA256MiBContainerPostCopy() throws Exception {
    JsonObject workload = launch(a, "memservice", 256);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);

    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container").put("mode", "post-copy"),
        201);
    JsonObject status = a.post("/v1/send?wait=true", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 200);
    System.out.printf("runc 256 MiB post-copy: timings %s postCopy %s bytes %s%n", status.getJsonObject("timings"),
        status.getJsonObject("postCopy"), status.getJsonObject("bytes"));

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(status.getString("mode")).isEqualTo("post-copy");
    assertThat(status.getJsonObject("timings").getLong("downtimeMs")).isNotNull().isGreaterThanOrEqualTo(0);
    assertThat(status.getJsonObject("timings").getLong("postCopyMs")).isNotNull().isGreaterThanOrEqualTo(0);
    JsonObject postCopy = status.getJsonObject("postCopy");
    assertThat(postCopy.getLong("pagesOnDemand")).isNotNull();
    assertThat(postCopy.getLong("pagesPushed")).isGreaterThan(0);
    assertThat(status.getJsonObject("bytes").getLong("pages")).isGreaterThan(256L << 20);
    MemServiceClient.Answer after = MemServiceClient.verify(b.node.address(), PORT, 10000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    String restoredId = status.getString("destinationWorkloadId");
    Path rootfs = b.workDir.resolve("containers").resolve(restoredId).resolve("bundle/rootfs");
    assertThat(Files.readString(rootfs.resolve("data/kept.txt"))).isEqualTo("kept-5\n");
    assertThat(a.getArray("/v1/workloads")).as("the paused source container is gone").isEmpty();
    assertThat(HostCommand.run("runc", "--root", a.workDir.resolve("runc").toString(), "list", "-q").output())
        .isBlank();
    assertThat(b.get("/v1/workloads/" + restoredId).getString("kind")).isEqualTo("container");
    assertNoSessionFiles();
  }

  /**
   * The link cut while a runc container's pages are still arriving: the destination fences (its container
   * killed and removed), the source resumes its paused container from the freeze point.
   */
  @Test
  void aLinkCutDuringContainerPostCopyResumesTheSourceContainer() throws Exception {
    JsonObject workload = launch(a, "memservice", 256);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    // slow enough that the background push of 256 MiB takes a while after the restore
    network.limitRate("100mbit");
    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container").put("mode", "post-copy"),
        201);
    String migrationId = a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 202).getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> b.get("/v1/migrations/" + session.getString("sessionId")).getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));
    network.setLinkUp(b.node, false);

    JsonObject status = awaitFinal(a, migrationId);
    System.out.println("runc link cut during post-copy: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("postCopy").getString("outcome"))
        .contains("resumed on the source from the freeze point").contains("work is lost");
    MemServiceClient.Answer resumed = MemServiceClient.verify(a.node.address(), PORT, 10000);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());

    network.setLinkUp(b.node, true);
    JsonObject destination = awaitFinal(b, session.getString("sessionId"));
    System.out.println("destination: " + destination.encode());
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(destination.getJsonObject("error").getString("code")).isEqualTo("POST_COPY_BROKEN");
    assertThat(b.getArray("/v1/workloads")).as("the destination's copy was killed: the container runs once")
        .isEmpty();
    assertThat(a.getArray("/v1/workloads")).hasSize(1);
  }

  /**
   * A runc restore that fails before the container's memory (its port is taken on the destination) rolls a
   * post-copy back before the commit: runc has no post-dump gate, so the source ends CRIU's waiting page
   * server itself and thaws the paused container, which answers with the same memory.
   */
  @Test
  void aContainerPostCopyWhoseRestoreFailsRollsBackToTheSource() throws Exception {
    JsonObject workload = launch(a, "memservice", 64);
    MemServiceClient.Answer before = MemServiceClient.verify(a.node.address(), PORT, 10000);
    // under other names: an image of the same name with other content would fail the migration earlier
    importImage(b, "blocker-base", BusyboxImages.baseLayer(dir), null);
    importImage(b, "blocker", BusyboxImages.memServiceLayer(dir), "blocker-base");
    launch(b, "blocker", 1); // takes the port on the destination

    JsonObject session = b.post("/v1/receive", new JsonObject().put("kind", "container").put("mode", "post-copy"),
        201);
    JsonObject status = a.post("/v1/send?wait=true", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 200);
    System.out.println("runc post-copy, restore failed: " + status.encode());

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("message")).contains("Address already in use");
    MemServiceClient.Answer resumed = MemServiceClient.verify(a.node.address(), PORT, 10000);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    assertThat(a.getArray("/v1/workloads")).hasSize(1);
    assertThat(b.getArray("/v1/workloads")).as("only the container that took the port").hasSize(1);
  }

  private static JsonObject awaitFinal(AgentProcess agent, String migrationId) {
    return Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> agent.get("/v1/migrations/" + migrationId),
            status -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(status.getString("phase")));
  }

  private JsonObject launch(AgentProcess agent, String image, int mib) throws Exception {
    return launch(agent, image, mib, PORT);
  }

  private JsonObject launch(AgentProcess agent, String image, int mib, int port) throws Exception {
    return launch(agent, image, mib, port, "runc");
  }

  private JsonObject launch(AgentProcess agent, String image, int mib, int port, String runtime) throws Exception {
    JsonObject workload = agent.post("/v1/workloads", new JsonObject().put("name", image).put("kind", "container")
        .put("runtime", runtime).put("image", image)
        .put("command", new JsonArray(BusyboxImages.memServiceCommand(port, mib, 5))), 201);
    Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.query(agent.node.address(), port, 1000), answer -> true);
    return workload;
  }

  private static JsonObject migrate(AgentProcess from, AgentProcess to, String workloadId) throws Exception {
    JsonObject session = to.post("/v1/receive", new JsonObject().put("kind", "container"), 201);
    return from.post("/v1/send?wait=true", MigrationTestBed.sendBody(workloadId, session), 200);
  }

  private static void importImage(AgentProcess agent, String name, Path tarball, String base) throws Exception {
    JsonObject body = new JsonObject().put("name", name).put("rootfs", tarball.toString());
    if (base != null) {
      body.put("base", base);
    }
    agent.post("/v1/images", body, 201);
  }

  /** A top layer with the memory service and a marker file, so that its digest differs from the usual one. */
  private Path variantLayer(String marker) throws Exception {
    Path root = dir.resolve("variant-" + marker);
    Files.createDirectories(root);
    Files.copy(dir.resolve("memservice-layer/memservice"), root.resolve("memservice"),
        StandardCopyOption.COPY_ATTRIBUTES);
    Files.writeString(root.resolve("variant"), marker + "\n");
    Path tarball = dir.resolve("variant-" + marker + ".tar");
    HostCommand.check("tar", "--numeric-owner", "--owner=0", "--group=0", "-cf", tarball.toString(), "-C",
        root.toString(), ".");
    return tarball;
  }

  private void assertNoSessionFiles() {
    for (AgentProcess agent : new AgentProcess[] {a, b}) {
      Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(agent.sessionFiles()).as("session files of " + agent.node.name()).isEmpty());
    }
  }

  /** Containers outlive a killed agent by design; a test must not leave them behind. */
  private static void removeLeftoverContainers(Path workDir) {
    Path stateRoot = workDir.resolve("runc");
    if (Files.isDirectory(stateRoot)) {
      for (String line : HostCommand.run("runc", "--root", stateRoot.toString(), "list", "-q").output().split("\n")) {
        if (!line.isBlank()) {
          HostCommand.run("runc", "--root", stateRoot.toString(), "delete", "--force", line.trim());
        }
      }
    }
    Path containers = workDir.resolve("containers");
    if (Files.isDirectory(containers)) {
      try (var dirs = Files.list(containers)) {
        dirs.forEach(container -> HostCommand.run("podman", "rm", "--force", "--ignore",
            container.getFileName().toString()));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    // images podman pulled from this agent's store are tagged localhost/<store path>
    for (String line : HostCommand.run("podman", "images", "--format", "{{.ID}} {{.Repository}}").output()
        .split("\n")) {
      String[] parts = line.trim().split(" ");
      if (parts.length == 2 && parts[1].startsWith("localhost" + workDir)) {
        HostCommand.run("podman", "rmi", "--force", parts[0]);
      }
    }
    for (String line : HostCommand.run("findmnt", "-rn", "-o", "TARGET").output().split("\n")) {
      if (line.startsWith(workDir.toString())) {
        HostCommand.run("umount", "-l", line);
      }
    }
  }
}
