package io.ums.agent.migration;

import io.ums.agent.dataplane.AgentMemoryBudget;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
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
 * A real agent JVM for integration tests: the agent's main class on this test's classpath, started under
 * {@code nsenter --net} in a testbed node, so it runs in the node's network namespace as in production,
 * and its control API is reached from the test through the testbed bridge. Blocking.
 */
final class AgentProcess implements AutoCloseable {
  static final int CONTROL_PORT = 7070;
  static final int DATA_PORT = 7071;
  /** System property of the test JVM: more JVM options for every agent, space-separated (diagnostics). */
  static final String EXTRA_JVM_OPTIONS = "ums.test.agentJvmOptions";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final NetworkTestbed.Node node;
  final Path workDir;
  final Path sessionRoot;
  private final List<String> properties;
  private final List<String> arguments;
  private final Path log;
  private Process process;

  AgentProcess(NetworkTestbed.Node node, Path workDir, List<String> properties) {
    this(node, workDir, properties, List.of());
  }

  /** {@code arguments}: more agent options (e.g. the --kubelet-* ones). */
  AgentProcess(NetworkTestbed.Node node, Path workDir, List<String> properties, List<String> arguments) {
    this.node = node;
    this.workDir = workDir;
    this.sessionRoot = workDir.resolve("sessions");
    this.properties = List.copyOf(properties);
    this.arguments = List.copyOf(arguments);
    this.log = workDir.resolve("agent.log");
  }

  AgentProcess start(int gracePeriodSeconds) throws IOException {
    Files.createDirectories(workDir);
    List<String> command = new ArrayList<>(List.of("nsenter", "--net=" + node.netnsPath(),
        Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(AgentMemoryBudget.JVM_OPTIONS);
    // diagnostics only (e.g. -XX:NativeMemoryTracking=summary), never set by a test
    String extra = System.getProperty(EXTRA_JVM_OPTIONS, "").trim();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("\\s+")));
    }
    command.add("-Dums.migration.sessionRoot=" + sessionRoot);
    command.addAll(properties);
    // fault properties need the agent with its fault hooks installed; every other test runs the real main
    boolean faults = properties.stream().anyMatch(p -> p.startsWith("-D" + FaultInjectingAgentMain.PROPERTY_PREFIX));
    String main = faults ? FaultInjectingAgentMain.class.getName() : "io.ums.agent.AgentMain";
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), main,
        "--node", node.name(), "--control-port", Integer.toString(CONTROL_PORT),
        "--data-port", Integer.toString(DATA_PORT), "--work-dir", workDir.toString(),
        "--bind", node.address(), "--advertise-host", node.address(),
        "--grace-period", Integer.toString(gracePeriodSeconds)));
    command.addAll(arguments);
    ProcessBuilder builder = new ProcessBuilder(command).directory(new File("/"))
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().putAll(AgentMemoryBudget.ENVIRONMENT);
    process = builder.start();
    awaitHealthy(Duration.ofSeconds(90));
    return this;
  }

  /**
   * Waits for {@code /health} UP; an agent that exits first, or never answers, fails the test with its log
   * (and, when it hangs, its threads), so a start that fails on a busy machine says why.
   */
  private void awaitHealthy(Duration within) throws IOException {
    try {
      Awaitility.await().atMost(within).ignoreExceptions()
          .until(() -> !process.isAlive() || "UP".equals(get("/health").getString("status")));
    } catch (org.awaitility.core.ConditionTimeoutException hung) {
      String threads = io.ums.host.HostCommand.run(Path.of(System.getProperty("java.home"), "bin", "jcmd")
          .toString(), Long.toString(process.pid()), "Thread.print").output();
      throw new AssertionError("agent on " + node.name() + " not healthy after " + within + "; host route: "
          + node.routeFromHost() + "; log:\n" + Files.readString(log) + "\nthreads:\n" + threads, hung);
    }
    if (!process.isAlive()) {
      throw new AssertionError("agent on " + node.name() + " exited with " + process.exitValue()
          + " before it was healthy; log:\n" + Files.readString(log));
    }
  }

  long pid() {
    return process.pid();
  }

  /** The agent's peak resident set size in KiB (VmHWM). */
  long peakRssKib() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM: the agent drains and exits. */
  void terminate() {
    process.destroy();
  }

  boolean waitForExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  String log() throws IOException {
    return Files.exists(log) ? Files.readString(log) : "";
  }

  List<String> sessionFiles() throws IOException {
    if (!Files.exists(sessionRoot)) {
      return List.of();
    }
    try (var paths = Files.walk(sessionRoot)) {
      return paths.filter(path -> !path.equals(sessionRoot)).map(Path::toString).toList();
    }
  }

  /**
   * Processes (other than agent JVMs) with an argument inside this agent's work dir or session root: the
   * CRIU page servers, lazy-pages daemons, restores and pipes of its sessions. Host PID and command line.
   */
  List<String> sessionProcesses() throws IOException {
    List<String> roots = List.of(workDir.toAbsolutePath().toString(), sessionRoot.toAbsolutePath().toString());
    List<String> found = new ArrayList<>();
    try (var processes = Files.list(Path.of("/proc"))) {
      for (Path proc : processes.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .toList()) {
        String[] args;
        try {
          args = new String(Files.readAllBytes(proc.resolve("cmdline")), java.nio.charset.StandardCharsets.UTF_8)
              .split("\0");
        } catch (IOException e) {
          continue; // ended meanwhile
        }
        boolean agentJvm = java.util.Arrays.stream(args).anyMatch(arg -> arg.startsWith("-Dums.migration.sessionRoot="));
        boolean ours = java.util.Arrays.stream(args).anyMatch(arg -> roots.stream().anyMatch(arg::startsWith));
        if (ours && !agentJvm) {
          found.add(proc.getFileName() + " " + String.join(" ", args));
        }
      }
    }
    return found;
  }

  /**
   * Whether a line of {@link #sessionProcesses} is the restore itself at work ({@code criu restore},
   * {@code runc restore} or a wrapper that execs it), not a shell of the agent's tethers or guards around it.
   */
  static boolean isRestoring(String sessionProcess) {
    String[] pidAndArguments = sessionProcess.split(" ", 3);
    return sessionProcess.contains(" restore ") && !pidAndArguments[1].equals("sh");
  }

  /** SIGKILLs what {@link #sessionProcesses} finds (test cleanup: only this agent's own directories). */
  void killSessionProcesses() throws IOException {
    for (String process : sessionProcesses()) {
      ProcessHandle.of(Long.parseLong(process.substring(0, process.indexOf(' ')))).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  String dataAddress() {
    return node.address() + ":" + DATA_PORT;
  }

  JsonObject get(String path) throws IOException, InterruptedException {
    return new JsonObject(send(HttpRequest.newBuilder(uri(path)).GET(), 200).body());
  }

  String getText(String path) throws IOException, InterruptedException {
    return send(HttpRequest.newBuilder(uri(path)).GET(), 200).body();
  }

  JsonArray getArray(String path) throws IOException, InterruptedException {
    return new JsonArray(send(HttpRequest.newBuilder(uri(path)).GET(), 200).body());
  }

  JsonObject post(String path, JsonObject body, int expectedStatus) throws IOException, InterruptedException {
    HttpResponse<String> response = send(HttpRequest.newBuilder(uri(path))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.encode())), expectedStatus);
    return new JsonObject(response.body());
  }

  void delete(String path) throws IOException, InterruptedException {
    send(HttpRequest.newBuilder(uri(path)).DELETE(), 204);
  }

  private HttpResponse<String> send(HttpRequest.Builder request, int expectedStatus)
      throws IOException, InterruptedException {
    HttpResponse<String> response = HTTP.send(request.timeout(Duration.ofMinutes(3)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != expectedStatus) {
      throw new IllegalStateException(request.build().method() + " " + request.build().uri() + " -> "
          + response.statusCode() + ": " + response.body());
    }
    return response;
  }

  private URI uri(String path) {
    return URI.create("http://" + node.address() + ":" + CONTROL_PORT + path);
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      kill();
    }
  }
}
