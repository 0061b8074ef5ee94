package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Post-copy as a mode of the agent's migration engine (mode "post-copy" on /v1/receive and /v1/send): two
 * real agent JVMs in two network namespaces, real CRIU lazy pages, the C memory service as the workload.
 */
@Tag("slow")
class PostCopyMigrationTest extends MigrationBedTest {
  @Test
  void movesAMemServicePostCopy() throws Exception {
    bed = new MigrationTestBed(dir, "upc", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 64);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    JsonObject session = postCopyReceive();

    JsonObject status = bed.a.post("/v1/send?wait=true", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 200);
    System.out.println("post-copy: " + status.encode());

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(status.getString("mode")).isEqualTo("post-copy");
    assertThat(status.getJsonObject("timings").getLong("postCopyMs")).isNotNull().isGreaterThanOrEqualTo(0);
    JsonObject postCopy = status.getJsonObject("postCopy");
    assertThat(postCopy.getLong("pagesOnDemand")).isNotNull();
    assertThat(postCopy.getLong("pagesPushed")).isGreaterThan(0);
    MemServiceClient.Answer after = MemServiceClient.verify(bed.b.node.address(), MigrationTestBed.SERVICE_PORT, 30_000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    assertThat(ProcessTree.alive(workload.getLong("pid"))).as("the frozen source copy is gone").isFalse();
    assertThat(bed.workloads(bed.a)).isEmpty();
    assertThat(bed.workloads(bed.b)).hasSize(1);
    JsonObject destination = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(30));
    assertThat(destination.getString("mode")).isEqualTo("post-copy");
  }

  /**
   * Issue 14: an agent serving a 1 GiB post-copy stays within its 128 MiB budget (peak RSS, fresh agents).
   * Met since the TLS identity is lazy and the young generation is sized for the bytes in flight (peaks of
   * 110–112 MiB; 134–136 MiB on the destination before, agent/POSTCOPY.md "Agent memory").
   */
  @Test
  void movesOneGibPostCopyWithinTheAgentMemoryBudget() throws Exception {
    bed = new MigrationTestBed(dir, "upc", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 1024);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 30_000);
    JsonObject session = postCopyReceive();

    JsonObject status = bed.a.post("/v1/send?wait=true", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 200);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    long rssA = bed.a.peakRssKib();
    long rssB = bed.b.peakRssKib();
    System.out.printf("1 GiB post-copy: timings %s postCopy %s; agent peak RSS source %d KiB, destination %d KiB%n",
        status.getJsonObject("timings"), status.getJsonObject("postCopy"), rssA, rssB);
    JsonObject postCopy = status.getJsonObject("postCopy");
    assertThat(postCopy.getLong("readAheadBytes")).as("pushed pages came from the read-ahead")
        .isGreaterThan(postCopy.getLong("pagesPushed") * 4096 * 9 / 10);
    MemServiceClient.Answer after = MemServiceClient.verify(bed.b.node.address(), MigrationTestBed.SERVICE_PORT, 30_000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(rssA).isLessThan(128 * 1024);
    assertThat(rssB).isLessThan(128 * 1024);
  }

  @Test
  void aLinkCutDuringPostCopyResumesTheSourceFromTheFreezePoint() throws Exception {
    bed = new MigrationTestBed(dir, "upc", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 256);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    // slow enough that the background push of 256 MiB takes a while after the restore
    bed.network.limitRate("100mbit");
    JsonObject session = postCopyReceive();
    String migrationId = bed.a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session)
        .put("mode", "post-copy"), 202).getString("migrationId");
    // the destination runs the workload; pages are still arriving
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> bed.b.get("/v1/migrations/" + session.getString("sessionId")).getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));
    bed.network.setLinkUp(bed.b.node, false);

    JsonObject status = bed.awaitFinal(bed.a, migrationId, Duration.ofSeconds(60));
    System.out.println("link cut during post-copy: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("postCopy").getString("outcome"))
        .contains("resumed on the source from the freeze point").contains("work is lost");
    // the answer is a checksum of 256 MiB: 10 s ran out once on a loaded 2-core machine (load 8); the bound is
    // the harness's guard, the same as for the 1 GiB test above
    MemServiceClient.Answer resumed = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT,
        30_000);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());

    bed.network.setLinkUp(bed.b.node, true);
    JsonObject destination = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(60));
    System.out.println("destination: " + destination.encode());
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(destination.getJsonObject("error").getString("code")).isEqualTo("POST_COPY_BROKEN");
    assertThat(bed.workloads(bed.b)).as("the destination's copy was killed: the workload runs once").isEmpty();
    assertThat(bed.workloads(bed.a)).hasSize(1);
  }

  /**
   * The source agent killed (SIGKILL) while pages are still arriving: its sockets close, nothing more is
   * said. The destination loses the connection before the last page and fences (its copy killed). The
   * source's CRIU, orphaned, ends its page-server session: at a clean end of its socket (it waited for a
   * request) it leaves the tree stopped ({@code --leave-stopped}); after an error (it was sending pages)
   * it resumes it. Either way the workload never runs twice, and its frozen copy on the source is intact.
   */
  @Test
  void theSourceAgentDyingDuringPostCopyFencesTheDestinationAndKeepsTheFrozenSourceCopy() throws Exception {
    bed = new MigrationTestBed(dir, "upc", List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 256);
    long sourcePid = workload.getLong("pid");
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000);
    bed.network.limitRate("100mbit");
    JsonObject session = postCopyReceive();
    bed.a.post("/v1/send", MigrationTestBed.sendBody(workload.getString("id"), session).put("mode", "post-copy"), 202);
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> bed.b.get("/v1/migrations/" + session.getString("sessionId")).getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));
    bed.a.kill();

    JsonObject destination = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(60));
    System.out.println("source agent killed during post-copy; destination: " + destination.encode());
    assertThat(destination.getString("phase")).isEqualTo("FAILED");
    assertThat(destination.getJsonObject("error").getString("code")).isEqualTo("POST_COPY_BROKEN");
    assertThat(bed.workloads(bed.b)).as("the destination's copy was killed").isEmpty();
    assertThat(answers(bed.b.node.address())).isFalse();

    // the orphaned CRIU lets go of the tree (no tracer left), leaving it stopped or resumed
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> tracerPid(sourcePid) == 0);
    char state = ProcessTree.state(sourcePid).orElseThrow();
    System.out.println("source tree after CRIU let go: state " + state);
    if (state == 'T') {
      assertThat(answers(bed.a.node.address())).as("stopped: it runs nowhere").isFalse();
      ProcessTree.signalAll(sourcePid, "CONT"); // what an operator (or a future restarted agent) does
    }
    MemServiceClient.Answer resumed = Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000), a -> true);
    assertThat(resumed.checksum()).as("the frozen copy is intact").isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    assertThat(answers(bed.b.node.address())).as("and runs once").isFalse();
  }

  private static long tracerPid(long pid) throws java.io.IOException {
    for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("TracerPid:")) {
        return Long.parseLong(line.substring("TracerPid:".length()).trim());
      }
    }
    return -1;
  }

  private static boolean answers(String address) {
    try {
      MemServiceClient.query(address, MigrationTestBed.SERVICE_PORT, 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  private JsonObject postCopyReceive() throws Exception {
    return bed.b.post("/v1/receive", new JsonObject().put("kind", "process").put("mode", "post-copy"), 201);
  }
}
