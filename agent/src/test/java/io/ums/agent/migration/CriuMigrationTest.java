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
 * Live migration end to end: two agent JVMs in two network namespaces, real CRIU, the C memory service,
 * migrated through the control API and the UMS data plane (pages relayed from {@code criu dump} into a
 * remote {@code criu page-server}).
 */
@Tag("slow")
class CriuMigrationTest extends MigrationBedTest {
  @Test
  void migratesThereAndBackWithCounterAndMemoryIntact() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 64);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT,
        5000);

    JsonObject there = bed.migrate(bed.a, bed.b, workload.getString("id"));
    assertDone(there, workload, before, bed.a, bed.b);

    MemServiceClient.Answer onB = MemServiceClient.verify(bed.b.node.address(), MigrationTestBed.SERVICE_PORT,
        5000);
    JsonObject back = bed.migrate(bed.b, bed.a, there.getString("destinationWorkloadId"));
    assertDone(back, bed.b.get("/v1/migrations/" + back.getString("id")).put("id",
        there.getString("destinationWorkloadId")).put("pid", 0L), onB, bed.b, bed.a);
    assertThat(bed.workloads(bed.a)).hasSize(1);
    String backOnA = back.getString("destinationWorkloadId");
    assertThat(bed.a.get("/v1/workloads/" + backOnA).getString("status")).isEqualTo("RUNNING");

    // keep=true: a copy on B, the original goes on running on A
    JsonObject copy = bed.migrate(bed.a, bed.b, backOnA, true);
    assertThat(copy.getString("phase")).as(copy.encodePrettily()).isEqualTo("DONE");
    MemServiceClient.Answer original = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT,
        5000);
    MemServiceClient.Answer copied = MemServiceClient.verify(bed.b.node.address(), MigrationTestBed.SERVICE_PORT,
        5000);
    assertThat(copied.checksum()).isEqualTo(original.checksum()).isEqualTo(before.checksum());
    assertThat(bed.a.get("/v1/workloads/" + backOnA).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.b.get("/v1/workloads/" + copy.getString("destinationWorkloadId")).getString("status"))
        .isEqualTo("RUNNING");
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void migrates512MiBWithinTheAgentMemoryBudget() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, 512);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT,
        10000);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));
    assertDone(status, workload, before, bed.a, bed.b);
    assertThat(status.getJsonObject("bytes").getLong("pages")).isGreaterThan(512L << 20);
    long rssA = bed.a.peakRssKib();
    long rssB = bed.b.peakRssKib();
    System.out.printf("512 MiB migration: timings %s bytes %s; agent peak RSS source %d KiB, destination %d KiB%n",
        status.getJsonObject("timings"), status.getJsonObject("bytes"), rssA, rssB);
    assertThat(rssA).isLessThan(128 * 1024);
    assertThat(rssB).isLessThan(128 * 1024);
  }

  /**
   * Pages cross both agents in the pooled direct buffers their sockets read into (io.ums.protocol.SocketPipes),
   * up to a channel window and the socket queues per stream: four streams at once must fit the agents'
   * direct memory and arrive intact.
   */
  @Test
  void fourConcurrentMigrationsBetweenTheSameAgentsAllArriveIntact() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    int[] ports = {17011, 17012, 17013, 17014};
    java.util.Map<Integer, JsonObject> workloads = new java.util.LinkedHashMap<>();
    java.util.Map<Integer, String> checksums = new java.util.HashMap<>();
    for (int port : ports) {
      workloads.put(port, bed.launch(bed.a, 128, port));
      checksums.put(port, MemServiceClient.verify(bed.a.node.address(), port, 10_000).checksum());
    }

    java.util.Map<Integer, String> migrations = new java.util.LinkedHashMap<>();
    for (int port : ports) {
      JsonObject session = bed.receive(bed.b);
      migrations.put(port, bed.send(bed.a, workloads.get(port).getString("id"), session));
    }
    for (int port : ports) {
      JsonObject status = bed.awaitFinal(bed.a, migrations.get(port), Duration.ofMinutes(3));
      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      assertThat(MemServiceClient.verify(bed.b.node.address(), port, 10_000).checksum())
          .as("memory of the service on port " + port).isEqualTo(checksums.get(port));
    }
    System.out.printf("four concurrent 128 MiB migrations: agent peak RSS source %d KiB, destination %d KiB%n",
        bed.a.peakRssKib(), bed.b.peakRssKib());
    assertThat(bed.workloads(bed.a)).isEmpty();
    assertThat(bed.workloads(bed.b)).hasSize(ports.length);
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void migratesAProcessTreeWhoseOutputGoesOnInTheDestinationLog() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    // a shell that forks a child every tick: a tree of two processes, output on the relay pipe
    JsonObject workload = bed.a.post("/v1/workloads", new JsonObject().put("name", "ticker").put("command",
        new JsonArray().add("/bin/sh").add("-c").add("i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done")),
        201);
    String id = workload.getString("id");
    long before = Awaitility.await().atMost(Duration.ofSeconds(20))
        .until(() -> lastTick(bed.a.getText("/v1/workloads/" + id + "/logs")), tick -> tick >= 5);

    JsonObject status = bed.migrate(bed.a, bed.b, id);
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    String restored = status.getString("destinationWorkloadId");
    long firstOnB = Awaitility.await().atMost(Duration.ofSeconds(20))
        .until(() -> firstTick(bed.b.getText("/v1/workloads/" + restored + "/logs")), tick -> tick > 0);
    assertThat(firstOnB).as("the count goes on, it does not restart").isGreaterThan(before);
    Awaitility.await().atMost(Duration.ofSeconds(20))
        .until(() -> lastTick(bed.b.getText("/v1/workloads/" + restored + "/logs")), tick -> tick > firstOnB + 5);
    assertThat(ProcessTree.alive(workload.getLong("pid"))).isFalse();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  private static long lastTick(String log) {
    List<String> ticks = log.lines().filter(line -> line.startsWith("tick ")).toList();
    return ticks.isEmpty() ? 0 : Long.parseLong(ticks.get(ticks.size() - 1).substring(5).trim());
  }

  private static long firstTick(String log) {
    return log.lines().filter(line -> line.startsWith("tick ")).findFirst()
        .map(line -> Long.parseLong(line.substring(5).trim())).orElse(0L);
  }

  private void assertDone(JsonObject status, JsonObject workload, MemServiceClient.Answer before,
                          AgentProcess from, AgentProcess to) throws Exception {
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(status.getValue("error")).isNull();
    JsonObject timings = status.getJsonObject("timings");
    assertThat(timings.fieldNames()).contains("freezeMs", "dumpMs", "transferMs", "restoreMs", "totalMs",
        "downtimeMs");
    MemServiceClient.Answer after = MemServiceClient.verify(to.node.address(), MigrationTestBed.SERVICE_PORT, 10000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    long sourcePid = workload.getLong("pid", 0L);
    if (sourcePid > 0) {
      assertThat(ProcessTree.alive(sourcePid)).as("source process " + sourcePid).isFalse();
    }
    assertThat(bed.workloads(from).stream().map(item -> ((JsonObject) item).getString("id")))
        .doesNotContain(workload.getString("id"));
    String restoredId = status.getString("destinationWorkloadId");
    JsonObject restored = to.get("/v1/workloads/" + restoredId);
    assertThat(restored.getString("status")).isEqualTo("RUNNING");
    assertThat(restored.getString("restoredFrom")).isEqualTo(status.getString("id"));
    bed.assertNothingLeftBehind(from, to);
  }
}
