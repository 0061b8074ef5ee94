package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The source agent killed (SIGKILL of its JVM) mid-migration and started again on the same work dir: two
 * real agents in two network namespaces (prefix "usd"), real CRIU, the C memory service as the workload. The
 * restarted agent must settle the source copy: resume it when the destination cannot run it, keep it stopped
 * until the destination's verdict when it may, kill it when the destination runs it; no lock rules, session
 * files or records stay. The test plays the coordinator that tells the restarted agent the verdict.
 */
@Tag("slow")
class SourceAgentDeathTest extends MigrationBedTest {

  @Test
  void killedMidTransferInStopAndCopyTheRestartedAgentListsTheWorkloadRunningWithNothingLeft() throws Exception {
    bed = new MigrationTestBed(dir, "usd", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 128);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    bed.network.limitRate("100mbit");
    String migration = bed.send(bed.a, workload.getString("id"), bed.receive(bed.b));
    bed.awaitPagesSent(bed.a, migration, 16L << 20);

    bed.a.kill();
    bed.network.limitRate("unlimited");
    bed.a.start(10);

    assertRunsOnTheSourceAsBefore(workload, before);
    assertThat(bed.a.getArray("/v1/stopped-sources")).as("nothing left to settle").isEmpty();
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a);
  }

  @Test
  void killedDuringPostCopyTheDestinationFencesAndTheRestartedSourceResumesOnTheVerdict() throws Exception {
    bed = new MigrationTestBed(dir, "usd", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 256);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    bed.network.limitRate("100mbit");
    JsonObject session = bed.b.post("/v1/receive", new JsonObject().put("kind", "process").put("mode", "post-copy"), 201);
    String migration = bed.a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 202).getString("migrationId");
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> bed.b.get("/v1/migrations/" + session.getString("sessionId")).getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));

    bed.a.kill();
    JsonObject destination = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(60));
    assertThat(destination.getJsonObject("error").getString("code")).isEqualTo("POST_COPY_BROKEN");
    assertThat(bed.workloads(bed.b)).as("the destination fenced").isEmpty();
    bed.network.limitRate("unlimited");
    bed.a.start(10);

    // the destination's verdict (FENCED) is what lets the restarted agent resume it
    JsonArray held = bed.a.getArray("/v1/stopped-sources");
    assertThat(StoppedSourcesIds.of(held)).containsExactly(migration);
    JsonObject outcome = bed.a.post("/v1/stopped-sources/" + migration + "/resume", new JsonObject(), 200);
    assertThat(outcome.getString("outcome")).isEqualTo("resumed");
    assertRunsOnTheSourceAsBefore(workload, before);
    assertThat(bed.a.getArray("/v1/stopped-sources")).isEmpty();
    bed.assertNothingLeftBehind(bed.a);
  }

  @Test
  void killedAfterTheDestinationRestoredTheSourceStaysStoppedUntilTheVerdictThenDiesAndOneCopyRuns() throws Exception {
    bed = new MigrationTestBed(dir, "usd", List.of("-Dums.test.holdBeforeCommit=true"), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 64);
    long sourcePid = workload.getLong("pid");
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    JsonObject session = bed.receive(bed.b);
    String migration = bed.send(bed.a, workload.getString("id"), session);
    // the destination restored and the source took its result, then holds before its commit: kill it there
    JsonObject restored = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(120));
    assertThat(restored.getString("phase")).as(restored.encode()).isEqualTo("DONE");
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> bed.a.log().contains("holds before its commit"));
    bed.a.kill();

    // whatever the dead agent's CRIU does now, the source must not run while the destination does
    Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
        .until(() -> !answers(bed.a.node.address()));
    bed.a.start(10);
    assertThat(StoppedSourcesIds.of(bed.a.getArray("/v1/stopped-sources"))).containsExactly(migration);
    assertThat(answers(bed.a.node.address())).as("held: it runs nowhere but on the destination").isFalse();
    assertThat(bed.a.get("/v1/workloads/" + workload.getString("id")).getString("awaitingVerdict"))
        .as("listed with a clear status").contains(migration);

    JsonObject outcome = bed.a.post("/v1/stopped-sources/" + migration + "/kill", new JsonObject(), 200);
    assertThat(outcome.getString("outcome")).isEqualTo("killed");
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessTree.alive(sourcePid));
    assertThat(bed.workloads(bed.a)).as("the source copy is gone").isEmpty();
    MemServiceClient.Answer moved;
    try {
      moved = MemServiceClient.verify(bed.b.node.address(), MigrationTestBed.SERVICE_PORT, 10_000);
    } catch (Exception e) {
      throw new AssertionError("destination does not answer; workloads " + bed.workloads(bed.b) + "\nsource log:\n"
          + bed.a.log() + "\ndestination log:\n" + bed.b.log(), e);
    }
    assertThat(moved.checksum()).isEqualTo(before.checksum());
    assertThat(answers(bed.a.node.address())).as("exactly one copy runs").isFalse();
    assertThat(bed.a.getArray("/v1/stopped-sources")).isEmpty();
    bed.assertNothingLeftBehind(bed.a);
  }

  private void assertRunsOnTheSourceAsBefore(JsonObject workload, MemServiceClient.Answer before) throws Exception {
    MemServiceClient.Answer after = Awaitility.await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 10_000), a -> true);
    assertThat(after.checksum()).as("the frozen copy is intact").isEqualTo(before.checksum());
    assertThat(after.counter()).as("and goes on counting").isGreaterThan(before.counter());
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() ->
        bed.a.get("/v1/workloads/" + workload.getString("id")).getString("status"), "RUNNING"::equals);
    assertThat(answers(bed.b.node.address())).as("and runs once").isFalse();
  }

  private static boolean answers(String address) {
    try {
      MemServiceClient.query(address, MigrationTestBed.SERVICE_PORT, 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  /** The migration ids a GET /v1/stopped-sources lists. */
  private static final class StoppedSourcesIds {
    static List<String> of(JsonArray list) {
      return list.stream().map(JsonObject.class::cast).map(item -> item.getString("migrationId")).toList();
    }
  }
}
