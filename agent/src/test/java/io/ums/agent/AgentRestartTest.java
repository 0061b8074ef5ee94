package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.ums.agent.workload.ProcessIdentity;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agents as real JVM processes with the C memory service as their workload: the workload outlives a
 * kill -9 of its agent and a SIGTERM, and a new agent on the same work dir finds it again.
 */
@Tag("slow")
class AgentRestartTest {
  @TempDir
  static Path buildDir;
  private static Path memService;

  @TempDir
  Path workDir;
  private final List<AgentProcess> agents = new ArrayList<>();
  private final List<ProcessIdentity> workloads = new ArrayList<>();

  @BeforeAll
  static void buildMemService() {
    memService = MemService.build(buildDir);
  }

  @AfterEach
  void cleanUp() {
    agents.forEach(AgentProcess::close);
    workloads.forEach(ProcessIdentity::kill);
  }

  @Test
  void aWorkloadOutlivesKillNineOfItsAgentAndTheNextAgentFindsIt() throws Exception {
    AgentProcess first = agent();
    int port = AgentProcess.freePort();
    JsonObject launched = launchMemService(first.http(), port);
    String id = launched.getString("id");
    long before = MemServiceClient.query("127.0.0.1", port, 2000).counter();

    first.killHard();
    assertThat(first.process().exitValue()).isEqualTo(137);
    MemServiceClient.Answer meanwhile = MemServiceClient.verify("127.0.0.1", port, 2000);
    assertThat(meanwhile.counter()).isGreaterThanOrEqualTo(before);

    AgentProcess second = agent();
    JsonArray listed = second.http().get("/v1/workloads").array();
    assertThat(listed).hasSize(1);
    JsonObject found = listed.getJsonObject(0);
    assertThat(found.getString("id")).isEqualTo(id);
    assertThat(found.getLong("pid")).isEqualTo(launched.getLong("pid"));
    assertThat(found.getString("status")).isEqualTo("RUNNING");
    assertThat(second.http().get("/v1/workloads/" + id + "/logs").body()).contains("ready port=" + port);
    assertThat(MemServiceClient.query("127.0.0.1", port, 2000).counter()).isGreaterThan(before);

    assertThat(second.http().delete("/v1/workloads/" + id).status()).isEqualTo(204);
    assertThat(ProcessIdentity.of(found.getLong("pid"))).isEmpty();
    assertThatThrownBy(() -> MemServiceClient.query("127.0.0.1", port, 1000)).isInstanceOf(IOException.class);
  }

  @Test
  void sigtermWithoutMigrationsExitsZeroAtOnceAndLeavesWorkloadsRunning() throws Exception {
    AgentProcess agent = agent();
    int port = AgentProcess.freePort();
    launchMemService(agent.http(), port);

    long start = System.nanoTime();
    assertThat(agent.terminate(Duration.ofSeconds(20))).as("exit code").isEqualTo(0);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(took).as("exits well within the grace period").isLessThan(Duration.ofSeconds(10));
    assertThat(agent.output()).contains("DRAINING", "stopped; 1 workload(s) left running");
    MemServiceClient.verify("127.0.0.1", port, 2000);
  }

  private AgentProcess agent() throws IOException {
    AgentProcess agent = AgentProcess.start("node-r", workDir, workDir.resolve("agent-" + agents.size() + ".log"));
    agents.add(agent);
    return agent;
  }

  private JsonObject launchMemService(AgentHttp http, int port) {
    AgentHttp.Reply reply = http.post("/v1/workloads", AgentHttp.workload("mem", memService.toString(),
        Integer.toString(port), "16"));
    assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
    JsonObject workload = reply.json();
    workloads.add(ProcessIdentity.of(workload.getLong("pid")).orElseThrow());
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.query("127.0.0.1", port, 1000), answer -> true);
    return workload;
  }
}
