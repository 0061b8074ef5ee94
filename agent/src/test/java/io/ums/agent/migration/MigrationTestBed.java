package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.ums.host.HostCommand;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * Two real agents in two network namespaces of a {@link NetworkTestbed} (prefix "uam" unless given), the
 * C memory service or any command as the workload, and the calls a coordinator would make. Closing it
 * kills what it started and removes the namespaces, even after a failed test.
 */
final class MigrationTestBed implements AutoCloseable {
  static final int SERVICE_PORT = 17001;

  final NetworkTestbed network;
  final AgentProcess a;
  final AgentProcess b;
  private final Path dir;
  private Path memService;
  private final List<Long> servicePids = new ArrayList<>();

  MigrationTestBed(Path dir, List<String> sourceProperties, List<String> destinationProperties, int grace)
      throws Exception {
    this(dir, "uam", sourceProperties, destinationProperties, grace);
  }

  MigrationTestBed(Path dir, String netnsPrefix, List<String> sourceProperties,
                   List<String> destinationProperties, int grace) throws Exception {
    this.dir = dir;
    network = NetworkTestbed.create(netnsPrefix, 2);
    try {
      a = new AgentProcess(network.node(0), dir.resolve("agent-a"), sourceProperties).start(grace);
      b = new AgentProcess(network.node(1), dir.resolve("agent-b"), destinationProperties).start(grace);
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  /** Launches the memory service on {@code agent}, waits until it answers; returns the workload JSON. */
  JsonObject launch(AgentProcess agent, int mib) throws Exception {
    if (memService == null) {
      memService = MemService.build(dir.resolve("bin"));
    }
    JsonObject workload = launch(agent, "memservice", List.of(memService.toString(),
        Integer.toString(SERVICE_PORT), Integer.toString(mib)));
    Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.query(agent.node.address(), SERVICE_PORT, 1000), answer -> true);
    return workload;
  }

  /** Launches the memory service listening on {@code port}, waits until it answers; returns the workload JSON. */
  JsonObject launch(AgentProcess agent, int mib, int port) throws Exception {
    if (memService == null) {
      memService = MemService.build(dir.resolve("bin"));
    }
    JsonObject workload = launch(agent, "memservice-" + port, List.of(memService.toString(),
        Integer.toString(port), Integer.toString(mib)));
    Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.query(agent.node.address(), port, 1000), answer -> true);
    return workload;
  }

  /** Launches {@code command} as workload {@code name} on {@code agent} (killed on close); its JSON. */
  JsonObject launch(AgentProcess agent, String name, List<String> command) throws Exception {
    JsonObject workload = agent.post("/v1/workloads", new JsonObject().put("name", name)
        .put("command", new JsonArray(new ArrayList<>(command))), 201);
    servicePids.add(workload.getLong("pid"));
    return workload;
  }

  /** Launches {@code command} as workload {@code name} running as {@code user} (killed on close); its JSON. */
  JsonObject launch(AgentProcess agent, String name, List<String> command, String user) throws Exception {
    JsonObject workload = agent.post("/v1/workloads", new JsonObject().put("name", name)
        .put("command", new JsonArray(new ArrayList<>(command))).put("user", user), 201);
    servicePids.add(workload.getLong("pid"));
    return workload;
  }

  /** Deletes every workload both agents run, so that the next test of a shared bed starts clean. */
  void removeAllWorkloads() throws Exception {
    for (AgentProcess agent : new AgentProcess[] {a, b}) {
      for (Object item : workloads(agent)) {
        agent.delete("/v1/workloads/" + ((JsonObject) item).getString("id"));
      }
    }
  }

  /** A whole post-copy migration, waiting for its final status. */
  JsonObject migratePostCopy(AgentProcess from, AgentProcess to, String workloadId) throws Exception {
    JsonObject session = to.post("/v1/receive", new JsonObject().put("kind", "process").put("mode", "post-copy"),
        201);
    JsonObject status = from.post("/v1/send?wait=true", sendBody(workloadId, session).put("mode", "post-copy"), 200);
    servicePidsOf(to);
    return status;
  }

  /** Prepares a receive session on {@code to}. */
  JsonObject receive(AgentProcess to) throws Exception {
    return to.post("/v1/receive", new JsonObject().put("kind", "process"), 201);
  }

  /** Starts sending {@code workloadId} from {@code from} into the session; returns the migration id. */
  String send(AgentProcess from, String workloadId, JsonObject session) throws Exception {
    return from.post("/v1/send", sendBody(workloadId, session), 202).getString("migrationId");
  }

  static JsonObject sendBody(String workloadId, JsonObject session) {
    return new JsonObject().put("workloadId", workloadId).put("destination", new JsonObject()
        .put("address", session.getString("dataAddress")).put("sessionId", session.getString("sessionId"))
        .put("token", session.getString("token")));
  }

  /** A whole migration, waiting for its final status. */
  JsonObject migrate(AgentProcess from, AgentProcess to, String workloadId) throws Exception {
    return migrate(from, to, workloadId, false);
  }

  /** Stop-and-copy or post-copy, as {@code mode} says. */
  JsonObject migrate(AgentProcess from, AgentProcess to, String workloadId, MigrationMode mode) throws Exception {
    return mode == MigrationMode.POST_COPY ? migratePostCopy(from, to, workloadId) : migrate(from, to, workloadId);
  }

  /** With {@code keep}, the source goes on running and the destination runs a copy. */
  JsonObject migrate(AgentProcess from, AgentProcess to, String workloadId, boolean keep) throws Exception {
    JsonObject session = receive(to);
    JsonObject status = from.post("/v1/send?wait=true", sendBody(workloadId, session).put("keep", keep), 200);
    servicePidsOf(to);
    return status;
  }

  JsonObject awaitFinal(AgentProcess agent, String migrationId, Duration timeout) {
    return Awaitility.await().atMost(timeout).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> agent.get("/v1/migrations/" + migrationId),
            status -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(status.getString("phase")));
  }

  /** Waits until the source has streamed at least {@code bytes} of pages: mid-transfer. */
  void awaitPagesSent(AgentProcess agent, String migrationId, long bytes) {
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> agent.get("/v1/migrations/" + migrationId).getJsonObject("bytes").getLong("pages"),
            sent -> sent >= bytes);
  }

  private void servicePidsOf(AgentProcess agent) throws Exception {
    for (Object item : agent.getArray("/v1/workloads")) {
      servicePids.add(((JsonObject) item).getLong("pid"));
    }
  }

  JsonArray workloads(AgentProcess agent) throws Exception {
    return agent.getArray("/v1/workloads");
  }

  /**
   * The workload answers on the agent's node within a second (the cheap request), and its memory is the
   * same (the full checksum, which takes longer on a loaded machine, so outside that second).
   */
  void assertAnswersWithinASecond(AgentProcess agent, String checksum) throws Exception {
    Awaitility.await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> MemServiceClient.query(agent.node.address(), SERVICE_PORT, 500), any -> true);
    assertThat(MemServiceClient.verify(agent.node.address(), SERVICE_PORT, 10_000).checksum()).isEqualTo(checksum);
  }

  void assertNothingLeftBehind(AgentProcess... agents) throws Exception {
    for (AgentProcess agent : agents) {
      Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(agent.sessionFiles()).as("session files of " + agent.node.name()).isEmpty());
      String rules = HostCommand.run(agent.node.inNode(List.of("iptables", "-S"))).output();
      assertThat(rules).as("CRIU lock rules on " + agent.node.name()).doesNotContain("0xc114");
      Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(agent.sessionProcesses()).as("processes of the sessions of " + agent.node.name()).isEmpty());
    }
  }

  @Override
  public void close() throws Exception {
    for (AgentProcess agent : new AgentProcess[] {a, b}) {
      if (agent != null) {
        agent.close();
        agent.killSessionProcesses();
      }
    }
    for (long pid : servicePids) {
      if (pid > 0) {
        ProcessTree.signalAll(pid, "KILL");
      }
    }
    if (network != null) {
      network.close();
    }
  }
}
