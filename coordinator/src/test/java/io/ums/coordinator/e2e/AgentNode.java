package io.ums.coordinator.e2e;

import io.ums.agent.criu.ProcessTree;
import io.ums.coordinator.config.Defaults;
import io.ums.coordinator.testing.Http;
import io.ums.host.HostCommand;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ServerTls;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A real UMS agent JVM (io.ums.agent.AgentMain from the agent module) running inside one testbed
 * node's network namespace under {@code nsenter --net}, as a node agent would, with a control token (the
 * test run's) and, when asked, TLS on its control port. Blocking, test set-up only.
 */
final class AgentNode implements AutoCloseable {
  final NetworkTestbed.Node node;
  final Path workDir;
  final Path sessionRoot;
  private final Path log;
  private final BearerToken token;
  private Optional<ServerTls> tls = Optional.empty();
  private int gracePeriodSeconds = 10;
  private Http.Client http;
  private Process process;

  AgentNode(NetworkTestbed.Node node, Path workDir, BearerToken token) {
    this.node = node;
    this.workDir = workDir;
    this.sessionRoot = workDir.resolve("sessions");
    this.log = workDir.resolve("agent.log");
    this.token = token;
    this.http = Http.as(Optional.of(token), Optional.empty());
  }

  /** Serve the control API over HTTPS with this certificate (made for the node's address). */
  AgentNode withTls(ServerTls files, Path caFile) {
    this.tls = Optional.of(files);
    this.http = Http.as(Optional.of(token), Optional.of(caFile));
    return this;
  }

  /** The agent's --grace-period: how long a SIGTERM leaves in-flight migrations to finish. */
  AgentNode withGracePeriod(int seconds) {
    this.gracePeriodSeconds = seconds;
    return this;
  }

  /** A client of this agent's control API, with the token (and the CA when TLS). */
  Http.Client http() {
    return http;
  }

  AgentNode start() throws IOException {
    Files.createDirectories(workDir);
    List<String> command = new ArrayList<>(List.of("nsenter", "--net=" + node.netnsPath(),
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Dums.migration.sessionRoot=" + sessionRoot,
        "-cp", System.getProperty("java.class.path"), "io.ums.agent.AgentMain",
        "--node", node.name(),
        "--control-port", Integer.toString(Defaults.AGENT_CONTROL_PORT),
        "--data-port", Integer.toString(Defaults.AGENT_DATA_PORT),
        "--work-dir", workDir.toString(),
        "--bind", node.address(), "--advertise-host", node.address(),
        "--grace-period", Integer.toString(gracePeriodSeconds),
        "--control-token-file", token.writeTo(workDir.resolve("control.token")).toString()));
    tls.ifPresent(files -> command.addAll(List.of("--tls-cert", files.certificate().toString(),
        "--tls-key", files.privateKey().toString())));
    process = new ProcessBuilder(command).directory(new File("/")).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    awaitHealthy(Duration.ofSeconds(90));
    return this;
  }

  /**
   * Waits for {@code /health}; an agent that exits first, or never answers, fails the test with its log (and,
   * when it hangs, its threads), so a start that fails on a busy machine says why.
   */
  private void awaitHealthy(Duration within) throws IOException {
    try {
      Awaitility.await().atMost(within).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
          .until(() -> !process.isAlive() || http.get(url() + "/health").status() == 200);
    } catch (ConditionTimeoutException hung) {
      String threads = HostCommand.run(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
          Long.toString(process.pid()), "Thread.print").output();
      throw new AssertionError("agent on " + node.name() + " not healthy after " + within + "; host route: "
          + node.routeFromHost() + "; log:\n" + log() + "\nthreads:\n" + threads, hung);
    }
    if (!process.isAlive()) {
      throw new AssertionError("agent on " + node.name() + " exited with " + process.exitValue()
          + " before it was healthy; log:\n" + log());
    }
  }

  String url() {
    return (tls.isPresent() ? "https://" : "http://") + node.address() + ":" + Defaults.AGENT_CONTROL_PORT;
  }

  /**
   * A test's teardown of its nodes, even after a failure: workloads removed through each agent, agents
   * stopped, leftover containers removed, every workload pid the test or the agents knew killed, the
   * testbed's namespaces deleted.
   */
  static void stopAll(List<AgentNode> agents, List<Long> workloadPids, NetworkTestbed network)
      throws InterruptedException {
    List<Long> pids = new ArrayList<>(workloadPids);
    for (AgentNode agent : agents) {
      pids.addAll(agent.removeWorkloads());
      agent.close();
      agent.removeLeftoverContainers();
    }
    for (long pid : pids) {
      ProcessTree.signalAll(pid, "KILL");
    }
    if (network != null) {
      network.close();
    }
  }

  /**
   * Removes every workload the agent lists; answers their pids, for killing what the agent could not remove
   * (or all of them when the agent is gone already).
   */
  List<Long> removeWorkloads() {
    List<Long> pids = new ArrayList<>();
    try {
      Http.Answer listed = http.get(url() + "/v1/workloads");
      if (listed.status() == 200) {
        for (Object listedWorkload : new JsonArray(listed.body())) {
          JsonObject workload = (JsonObject) listedWorkload;
          Long pid = workload.getLong("pid");
          if (pid != null && pid > 0) {
            pids.add(pid);
          }
          http.delete(url() + "/v1/workloads/" + workload.getString("id"));
        }
      }
    } catch (AssertionError agentGone) {
      // the caller kills the pids it collected at launch
    }
    return pids;
  }

  List<String> sessionFiles() throws IOException {
    if (!Files.exists(sessionRoot)) {
      return List.of();
    }
    try (var paths = Files.walk(sessionRoot)) {
      return paths.filter(path -> !path.equals(sessionRoot)).map(Path::toString).toList();
    }
  }

  String log() throws IOException {
    return Files.exists(log) ? Files.readString(log) : "";
  }

  /** SIGKILL: the node's agent is gone at once (its workloads keep running). */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM, without waiting: the agent drains (in-flight migrations get --grace-period) and exits. */
  void terminate() {
    process.destroy();
  }

  boolean exited(Duration within) throws InterruptedException {
    return process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Containers outlive their agent by design; a test must not leave them (or their mounts) behind. */
  void removeLeftoverContainers() {
    Path stateRoot = workDir.resolve("runc");
    if (Files.isDirectory(stateRoot)) {
      for (String line : HostCommand.run("runc", "--root", stateRoot.toString(), "list", "-q").output().split("\n")) {
        if (!line.isBlank()) {
          HostCommand.run("runc", "--root", stateRoot.toString(), "delete", "--force", line.trim());
        }
      }
    }
    for (String line : HostCommand.run("findmnt", "-rn", "-o", "TARGET").output().split("\n")) {
      if (line.startsWith(workDir.toString())) {
        HostCommand.run("umount", "-l", line);
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
