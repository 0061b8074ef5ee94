package io.ums.bench.downtime;

import io.ums.host.HostCommand;
import io.ums.bench.local.ChildProcess;
import io.ums.bench.local.Waits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CRIU's own direct path, the best C implementation: {@code criu dump --page-server} streams the memory
 * pages to a {@code criu page-server} in the destination node (images on tmpfs); the small remaining image
 * files are then copied (a local file copy, no network: this favours the baseline), and restored.
 */
public final class CriuPageServerMethod implements MigrationMethod {
  private static final int PORT_OFFSET = 100;

  @Override
  public String name() {
    return "criu-page-server";
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    try (BaselineRun run = BaselineRun.start(name(), scenario, context, context.tmpfsScratch())) {
      int port = context.workloadPort() + PORT_OFFSET;
      // the receiver stands ready before the clock starts, as the agent's receive session does
      ChildProcess pageServer = ChildProcess.start("criu page-server", Criu.command(context.destination(),
          List.of("page-server", "-D", run.destinationImages().toString(), "--address",
              context.destination().address(), "--port", String.valueOf(port)),
          run.dir().resolve("page-server.log")), run.dir().resolve("page-server.out"));
      try (pageServer) {
        awaitListening(context, port, pageServer);
        return ProcessTrial.measure(name(), scenario, context, () -> migrate(run, context, pageServer, port));
      }
    }
  }

  private Map<String, Double> migrate(BaselineRun run, BenchContext context, ChildProcess pageServer, int port)
      throws IOException {
    Map<String, Double> phases = new LinkedHashMap<>();
    long start = System.nanoTime();
    context.progress().phase("checkpoint + page transfer (criu dump --page-server)");
    Criu.dump(context.source(), run.pid(), run.sourceImages(), run.dir(), List.of(
        "--page-server", "--address", context.destination().address(), "--port", String.valueOf(port)));
    int exit = pageServer.waitFor(30_000);
    if (exit != 0) {
      throw new IllegalStateException("criu page-server ended with " + exit + ": "
          + io.ums.bench.local.Commands.tail(run.dir().resolve("page-server.log")));
    }
    phases.put("checkpoint", ProcessTrial.millisSince(start));

    run.copyImageFiles(phases);

    run.restore(phases, start);
    return phases;
  }

  private static void awaitListening(BenchContext context, int port, ChildProcess pageServer) {
    Waits.until("criu page-server listening on " + port, Duration.ofSeconds(10), 5, () -> {
      if (!pageServer.isAlive()) {
        throw new IllegalStateException("criu page-server exited early");
      }
      HostCommand.Result listening = HostCommand.run(context.destination().inNode(
          List.of("ss", "-Hltn", "sport = :" + port)));
      return listening.ok() && !listening.output().isBlank();
    });
  }
}
