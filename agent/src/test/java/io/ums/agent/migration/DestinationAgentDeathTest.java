package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Kill -9 of the destination agent while it restores (issue 15, item 1), with two real agents and real
 * CRIU: the source rolls back and resumes, and the copy the destination was restoring must die with its
 * agent, without waiting for a restarted one, so that exactly one copy runs, on the source.
 */
@Tag("slow")
class DestinationAgentDeathTest extends MigrationBedTest {
  private static final int MIB = 256;

  /** Killed once criu restore has the copy running (its pid file), before the agent handed it over. */
  @Test
  void killingTheDestinationAgentOnceTheCopyRunsLeavesOneCopyOnTheSource() throws Exception {
    killDestinationAgentAndCheck(session -> {
      Path pidFile = bed.b.sessionRoot.resolve("recv-" + session.getString("sessionId")).resolve("restored.pid");
      Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(1))
          .until(() -> Files.exists(pidFile));
    });
  }

  /** Killed as soon as the destination says RESTORING: criu restore is still at work. */
  @Test
  void killingTheDestinationAgentWhileCriuRestoresLeavesOneCopyOnTheSource() throws Exception {
    killDestinationAgentAndCheck(session -> Awaitility.await().atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(5)).ignoreExceptions()
        .until(() -> bed.b.get("/v1/migrations/" + session.getString("sessionId")).getString("phase"),
            "RESTORING"::equals));
  }

  /**
   * Killed as soon as its criu page-server runs, before or while the pages arrive (stop-and-copy): the page
   * server is tethered to the agent and goes with it at once, not only when a restarted agent sweeps.
   */
  @Test
  void killingTheDestinationAgentWhileItsPageServerWaitsLeavesNoCriuBehind() throws Exception {
    bed = new MigrationTestBed(dir, "uak", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, MIB);
    bed.network.limitRate("50mbit");
    JsonObject session = bed.receive(bed.b);
    String migrationId = bed.send(bed.a, workload.getString("id"), session);
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(1))
        .until(() -> bed.b.sessionProcesses().stream().anyMatch(process -> process.contains(" page-server ")));
    bed.b.kill();

    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(bed.b.sessionProcesses()).as("processes of the dead agent's sessions").isEmpty());
    JsonObject status = bed.awaitFinal(bed.a, migrationId, Duration.ofSeconds(60));
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(copies()).containsExactly(workload.getLong("pid"));
    bed.b.start(10);
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /**
   * Killed during post-copy, the copy running here while pages arrive: its lazy-pages guard kills the copy,
   * then the daemon goes (tethered, after the guard); nothing of the session lives on, one copy is left.
   */
  @Test
  void killingTheDestinationAgentDuringPostCopyLeavesNoCopyAndNoCriuBehind() throws Exception {
    bed = new MigrationTestBed(dir, "uak", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, MIB);
    bed.network.limitRate("100mbit");
    JsonObject session = bed.b.post("/v1/receive", new JsonObject().put("kind", "process").put("mode", "post-copy"),
        201);
    String migrationId = bed.a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 202).getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> bed.b.get("/v1/migrations/" + session.getString("sessionId")).getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));
    bed.b.kill();

    Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
        assertThat(bed.b.sessionProcesses()).as("processes of the dead agent's sessions").isEmpty());
    Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .untilAsserted(() -> assertThat(copies()).as("memservice processes").containsExactly(workload.getLong("pid")));
    JsonObject status = bed.awaitFinal(bed.a, migrationId, Duration.ofSeconds(60));
    System.out.println("source after the destination agent's death in post-copy: " + status.encode());
    bed.b.start(10);
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.b);
  }

  /** Killed while {@code criu restore --lazy-pages} works, before CRIU wrote its pidfile. */
  @Test
  void killingTheDestinationAgentWhilePostCopyRestoresLeavesNoCopyAndNoCriuBehind() throws Exception {
    bed = new MigrationTestBed(dir, "uak", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, MIB);
    JsonObject session = bed.b.post("/v1/receive", new JsonObject().put("kind", "process").put("mode", "post-copy"),
        201);
    bed.a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session).put("mode", "post-copy"), 202);
    Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(2))
        .until(() -> bed.b.sessionProcesses().stream().anyMatch(AgentProcess::isRestoring));
    bed.b.kill();

    Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
        assertThat(bed.b.sessionProcesses()).as("processes of the dead agent's sessions").isEmpty());
    Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .untilAsserted(() -> assertThat(copies()).as("memservice processes").containsExactly(workload.getLong("pid")));
    bed.b.start(10);
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.b);
  }

  private interface Moment {
    void await(JsonObject session) throws Exception;
  }

  private void killDestinationAgentAndCheck(Moment moment) throws Exception {
    bed = new MigrationTestBed(dir, "uak", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, MIB);
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 10_000).checksum();
    JsonObject session = bed.receive(bed.b);
    String migrationId = bed.send(bed.a, workload.getString("id"), session);
    moment.await(session);
    bed.b.kill();

    JsonObject status = bed.awaitFinal(bed.a, migrationId, Duration.ofSeconds(60));
    System.out.println("after the destination agent's death: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .untilAsserted(() -> assertThat(copies()).as("memservice processes").hasSize(1));
    assertThat(copies()).containsExactly(workload.getLong("pid"));
    bed.assertAnswersWithinASecond(bed.a, checksum);

    // a restarted destination agent lists nothing and leaves nothing behind
    bed.b.start(10);
    assertThat(bed.workloads(bed.b)).isEmpty();
    assertThat(copies()).hasSize(1);
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /** Host PIDs of the processes running this test's memservice binary (any node, any PID namespace). */
  private List<Long> copies() throws IOException {
    Path binaries = dir.resolve("bin").toRealPath();
    try (Stream<Path> processes = Files.list(Path.of("/proc"))) {
      return processes.filter(path -> path.getFileName().toString().chars().allMatch(Character::isDigit))
          .filter(path -> {
            try {
              return Files.readSymbolicLink(path.resolve("exe")).startsWith(binaries);
            } catch (IOException e) {
              return false;
            }
          })
          .map(path -> Long.parseLong(path.getFileName().toString())).sorted().toList();
    }
  }
}
