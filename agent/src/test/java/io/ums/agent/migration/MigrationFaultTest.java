package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults during a real migration (two agent JVMs, two netns, real CRIU): in every case the source
 * workload resumes and answers within a second, the status says why, and no session files or CRIU lock
 * rules are left. Mid-transfer faults rate-limit the link so that the page stream is still flowing.
 */
@Tag("slow")
class MigrationFaultTest {
  private static final int MIB = 128;
  private static final long MID_TRANSFER = 16L << 20;

  @TempDir
  Path dir;

  private MigrationTestBed bed;

  @AfterEach
  void tearDown() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void destinationAgentKilledMidTransfer() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    Running running = startSlowMigration();
    bed.b.kill();

    JsonObject status = bed.awaitFinal(bed.a, running.migrationId, Duration.ofSeconds(30));
    assertRolledBack(status, running, "CONNECTION_LOST");
    // a restarted destination agent sweeps what its dead predecessor left
    bed.b.start(10);
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void linkCutMidTransfer() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    Running running = startSlowMigration();
    bed.network.setLinkUp(bed.b.node, false);

    JsonObject status = bed.awaitFinal(bed.a, running.migrationId, Duration.ofSeconds(30));
    assertRolledBack(status, running, "CONNECTION_LOST");
    bed.network.setLinkUp(bed.b.node, true);
    JsonObject destination = bed.awaitFinal(bed.b, running.sessionId, Duration.ofSeconds(30));
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void abortRequestedMidTransfer() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    Running running = startSlowMigration();
    JsonObject answer = bed.a.post("/v1/migrations/" + running.migrationId + "/abort", new JsonObject(), 202);
    assertThat(answer.getString("id")).isEqualTo(running.migrationId);

    JsonObject status = bed.awaitFinal(bed.a, running.migrationId, Duration.ofSeconds(30));
    assertRolledBack(status, running, "ABORTED");
    JsonObject destination = bed.awaitFinal(bed.b, running.sessionId, Duration.ofSeconds(30));
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void corruptedDataFrame() throws Exception {
    // the source's data connection flips one bit 8 MB into its stream: inside the pages
    bed = new MigrationTestBed(dir, List.of("-Dums.test.corruptWireByteAt=" + (8L << 20)), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 32);
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));
    System.out.println("rolled back: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("CHECKSUM_MISMATCH");
    bed.assertAnswersWithinASecond(bed.a, checksum);
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void restoreFailingOnTheDestination() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of("-Dums.test.dropImage=core-1.img"), 10);
    JsonObject workload = bed.launch(bed.a, 32);
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));
    System.out.println("rolled back: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("RESTORE_FAILED");
    assertThat(status.getJsonObject("error").getString("message")).contains("criu restore failed");
    bed.assertAnswersWithinASecond(bed.a, checksum);
    assertThat(bed.a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.b)).isEmpty();
    // the status carries CRIU's last error lines; the whole restore log stays on the destination
    assertThat(bed.b.workDir.resolve("failed-migrations")).isDirectoryRecursivelyContaining("glob:**/restore.log");
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void wrongTokenIsRefusedAndRestoresNothing() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 16);
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();
    JsonObject session = bed.receive(bed.b);
    byte[] wrong = new byte[32];
    new SecureRandom().nextBytes(wrong);
    JsonObject forged = session.copy().put("token", Base64.getEncoder().encodeToString(wrong));

    JsonObject status = bed.a.post("/v1/send?wait=true",
        MigrationTestBed.sendBody(workload.getString("id"), forged), 200);
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("AUTH_FAILED");
    bed.assertAnswersWithinASecond(bed.a, checksum);
    assertThat(bed.workloads(bed.b)).isEmpty();
    // the forged attempt did not burn the session: the rightful source still gets in
    assertThat(bed.b.get("/v1/migrations/" + session.getString("sessionId")).getString("phase"))
        .isEqualTo("PREPARING");
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void sigtermToTheSourceAgentMidTransferWithAShortGraceRollsBack() throws Exception {
    // 6 s of grace, of which 4 s for the migration: less than the rest of the page stream needs
    assertThat(sigtermMidTransfer(6)).as("moved to B").isFalse();
  }

  @Test
  void sigtermToTheSourceAgentMidTransferWithALongGraceCompletes() throws Exception {
    assertThat(sigtermMidTransfer(40)).as("moved to B").isTrue();
  }

  /** SIGTERM to the source agent mid-transfer; returns whether the workload ended up on B. */
  private boolean sigtermMidTransfer(int graceSeconds) throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), graceSeconds);
    Running running = startSlowMigration();
    bed.a.terminate();
    assertThat(bed.a.waitForExit(Duration.ofSeconds(graceSeconds + 15)))
        .as("source agent exits within its grace period").isTrue();

    JsonObject destination = bed.awaitFinal(bed.b, running.sessionId, Duration.ofSeconds(30));
    boolean movedToB = destination.getString("phase").equals("DONE");
    System.out.println("SIGTERM mid-transfer, destination ended " + destination.encode());
    String answering = movedToB ? bed.b.node.address() : bed.a.node.address();
    String silent = movedToB ? bed.a.node.address() : bed.b.node.address();
    assertThat(MemServiceClient.verify(answering, MigrationTestBed.SERVICE_PORT, 10_000).checksum())
        .isEqualTo(running.checksum);
    assertThat(ProcessTree.alive(running.sourcePid)).isEqualTo(!movedToB);
    assertThat(bed.workloads(bed.b)).hasSize(movedToB ? 1 : 0);
    assertThat(answers(silent)).as("the workload runs on one node only").isFalse();

    // a restarted source agent lists what it still runs
    bed.a.start(graceSeconds);
    assertThat(bed.workloads(bed.a)).hasSize(movedToB ? 0 : 1);
    bed.assertNothingLeftBehind(bed.a, bed.b);
    return movedToB;
  }

  private record Running(String migrationId, String sessionId, long sourcePid, String checksum) {}

  /** A 128 MiB workload migrating over a link limited to 200 mbit/s, caught with its pages streaming. */
  private Running startSlowMigration() throws Exception {
    JsonObject workload = bed.launch(bed.a, MIB);
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();
    bed.network.limitRate("200mbit");
    JsonObject session = bed.receive(bed.b);
    String migrationId = bed.send(bed.a, workload.getString("id"), session);
    bed.awaitPagesSent(bed.a, migrationId, MID_TRANSFER);
    return new Running(migrationId, session.getString("sessionId"), workload.getLong("pid"), checksum);
  }

  private void assertRolledBack(JsonObject status, Running running, String code) throws Exception {
    System.out.println("rolled back: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo(code);
    bed.assertAnswersWithinASecond(bed.a, running.checksum);
    assertThat(ProcessTree.running(running.sourcePid)).isTrue();
  }

  private static boolean answers(String address) {
    try {
      MemServiceClient.query(address, MigrationTestBed.SERVICE_PORT, 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }
}
