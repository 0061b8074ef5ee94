package io.ums.agent;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An agent in a JVM of its own ({@code java -cp <test class path> io.ums.agent.AgentMain ...}, the same main
 * as the shaded jar), so tests can kill -9 it or send it SIGTERM. Its output goes to a file.
 */
public final class AgentProcess implements AutoCloseable {
  private final Process process;
  private final Path log;
  private final int controlPort;

  private AgentProcess(Process process, Path log, int controlPort) {
    this.process = process;
    this.log = log;
    this.controlPort = controlPort;
  }

  public static AgentProcess start(String node, Path workDir, Path log, String... extraOptions) throws IOException {
    int controlPort = freePort();
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-Xmx128m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), AgentMain.class.getName(),
        "--node", node, "--control-port", Integer.toString(controlPort), "--data-port",
        Integer.toString(freePort()), "--work-dir", workDir.toString(), "--bind", "127.0.0.1"));
    command.addAll(List.of(extraOptions));
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    AgentProcess agent = new AgentProcess(process, log, controlPort);
    AgentHttp http = agent.http();
    try {
      await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> !process.isAlive()
          || http.get("/health").status() == 200);
    } catch (RuntimeException e) {
      agent.close();
      throw e;
    }
    if (!process.isAlive()) {
      throw new IllegalStateException("agent exited at start: " + agent.output());
    }
    return agent;
  }

  public AgentHttp http() {
    return new AgentHttp(controlPort);
  }

  public Process process() {
    return process;
  }

  public String output() throws IOException {
    return Files.readString(log);
  }

  public void killHard() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGTERM, then the exit code (or -1 if it did not exit within the timeout). */
  public int terminate(Duration timeout) throws InterruptedException {
    process.destroy();
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
