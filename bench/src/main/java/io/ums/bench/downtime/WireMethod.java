package io.ums.bench.downtime;

import io.ums.bench.local.ChildProcess;
import io.ums.bench.local.Commands;
import io.ums.bench.local.Waits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * No migration: the workload's memory size in bytes over one plain TCP connection from node A to node B,
 * on the same link. Both ends are JVMs of this jar in the nodes' namespaces; the sender times itself, so
 * JVM start-up is not counted. Rows carry totalMs only.
 */
public final class WireMethod implements MigrationMethod {
  private static final int PORT_OFFSET = 200;

  @Override
  public String name() {
    return "wire";
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    Path dir = Files.createDirectories(context.tmpfsScratch().resolve("wire"));
    String host = context.destination().address();
    String port = String.valueOf(context.workloadPort() + PORT_OFFSET);
    Path sinkLog = dir.resolve("sink.log");
    context.progress().phase("starting the sink");
    try (ChildProcess sink = ChildProcess.start("wire sink", context.destination().inNode(
        self("wire", "sink", "--host", host, "--port", port)), sinkLog)) {
      Waits.until("the wire sink", Duration.ofSeconds(30), 10, () -> {
        if (!sink.isAlive()) {
          throw new IllegalStateException("wire sink exited: " + Commands.tail(sinkLog));
        }
        return contains(sinkLog, "listening");
      });
      context.progress().phase("sending " + scenario.sizeMiB() + " MiB");
      Path sendLog = dir.resolve("send.log");
      Commands.check("wire send", context.source().inNode(self("wire", "send", "--host", host, "--port", port,
          "--bytes", String.valueOf(scenario.sizeBytes()))), sendLog, Duration.ofMinutes(10));
      double elapsed = Files.readAllLines(sendLog).stream()
          .filter(l -> l.startsWith("elapsedMs="))
          .mapToDouble(l -> Double.parseDouble(l.substring("elapsedMs=".length())))
          .findFirst().orElseThrow(() -> new IllegalStateException("wire send printed no time"));
      return new ResultRow(name(), scenario.sizeMiB(), scenario.link(), scenario.memory(), scenario.run(),
          null, elapsed, null, null, null, Map.of(), null);
    }
  }

  private static boolean contains(Path log, String text) {
    try {
      return Files.exists(log) && Files.readString(log).contains(text);
    } catch (IOException e) {
      return false;
    }
  }

  /** This bench, in a new JVM with the same class path: works from the shaded jar and from a test run. */
  private static List<String> self(String... args) {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
        "-cp", System.getProperty("java.class.path"), io.ums.bench.BenchMain.class.getName()));
    command.addAll(List.of(args));
    return command;
  }
}
