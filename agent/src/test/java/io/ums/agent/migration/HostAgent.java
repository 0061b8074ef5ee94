package io.ums.agent.migration;

import io.ums.agent.dataplane.AgentMemoryBudget;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A real agent JVM on the host (its network namespace: it reaches the kubelets on the cluster's node bridge),
 * the agent's main class on this test's classpath, on loopback ports of its own. Blocking.
 */
final class HostAgent implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final String node;
  final Path workDir;
  private final List<String> arguments;
  private int controlPort;
  private int dataPort;
  private Process process;

  HostAgent(String node, Path workDir, List<String> arguments) throws IOException {
    this.node = node;
    this.workDir = workDir;
    this.arguments = List.copyOf(arguments);
    this.controlPort = freePort();
    this.dataPort = freePort();
  }

  /**
   * Starts the agent and waits until it answers UP. The ports were free when chosen, but anything may take
   * one before the agent binds it (an outgoing connection's ephemeral port): an agent that exits for that is
   * started again on other ports. Any other early exit, or no UP within 60 s, fails with the agent's log.
   */
  HostAgent start() throws IOException {
    for (int attempt = 1; ; attempt++) {
      long logBefore = Files.exists(workDir.resolve("agent.log")) ? Files.size(workDir.resolve("agent.log")) : 0;
      launch();
      try {
        Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
            .until(() -> !process.isAlive() || "UP".equals(get("/health").getString("status")));
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new IllegalStateException("agent on node " + node + " not UP within 60 s; its log: "
            + tail(log(), logBefore), e);
      }
      if (process.isAlive()) {
        return this;
      }
      String thisRun = tail(log(), logBefore);
      if (attempt < 3 && thisRun.contains("Address already in use")) {
        controlPort = freePort();
        dataPort = freePort();
        continue;
      }
      throw new IllegalStateException("agent on node " + node + " exited (" + process.exitValue()
          + ") at its start; its log: " + thisRun);
    }
  }

  private void launch() throws IOException {
    Files.createDirectories(workDir);
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString()));
    command.addAll(AgentMemoryBudget.JVM_OPTIONS);
    command.add("-Dums.migration.sessionRoot=" + workDir.resolve("sessions"));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.ums.agent.AgentMain",
        "--node", node, "--control-port", Integer.toString(controlPort), "--data-port", Integer.toString(dataPort),
        "--work-dir", workDir.toString(), "--bind", "127.0.0.1", "--advertise-host", "127.0.0.1",
        "--grace-period", "5"));
    command.addAll(arguments);
    ProcessBuilder builder = new ProcessBuilder(command).directory(new File("/")).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(workDir.resolve("agent.log").toFile()));
    builder.environment().putAll(AgentMemoryBudget.ENVIRONMENT);
    process = builder.start();
  }

  /** What the log holds after {@code from} characters, its last 4000 at most. */
  private static String tail(String log, long from) {
    String since = log.substring((int) Math.min(from, log.length()));
    return since.length() <= 4000 ? since : since.substring(since.length() - 4000);
  }

  /** SIGKILL: the agent dies without draining, as a crashed or OOM-killed one. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGSTOP: the agent neither answers nor resets its connections, as on a node that died or lost its link. */
  void freeze() throws IOException, InterruptedException {
    Process signal = new ProcessBuilder("kill", "-STOP", Long.toString(process.pid())).inheritIO().start();
    if (signal.waitFor() != 0) {
      throw new IllegalStateException("kill -STOP " + process.pid() + " failed");
    }
  }

  String log() throws IOException {
    Path log = workDir.resolve("agent.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }

  JsonObject get(String path) throws IOException, InterruptedException {
    return new JsonObject(send(HttpRequest.newBuilder(uri(path)).GET(), 200));
  }

  JsonArray getArray(String path) throws IOException, InterruptedException {
    return new JsonArray(send(HttpRequest.newBuilder(uri(path)).GET(), 200));
  }

  JsonObject post(String path, JsonObject body, int expectedStatus) throws IOException, InterruptedException {
    return new JsonObject(send(HttpRequest.newBuilder(uri(path)).header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.encode())), expectedStatus));
  }

  /** The migration's status once it ended (DONE, ROLLED_BACK, FAILED). */
  JsonObject awaitEnd(String migrationId) {
    return Awaitility.await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(100))
        .until(() -> get("/v1/migrations/" + migrationId),
            status -> List.of("DONE", "ROLLED_BACK", "FAILED").contains(status.getString("phase")));
  }

  private String send(HttpRequest.Builder request, int expectedStatus) throws IOException, InterruptedException {
    HttpResponse<String> response = HTTP.send(request.timeout(Duration.ofMinutes(3)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != expectedStatus) {
      throw new IllegalStateException(request.build().method() + " " + request.build().uri() + " -> "
          + response.statusCode() + ": " + response.body());
    }
    return response.body();
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + controlPort + path);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }
}
