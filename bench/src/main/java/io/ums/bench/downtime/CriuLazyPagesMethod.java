package io.ums.bench.downtime;

import io.ums.bench.local.ChildProcess;
import io.ums.bench.local.Commands;
import io.ums.bench.local.Waits;
import io.ums.testkit.NetworkTestbed;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CRIU's own post-copy, the floor for {@code ums-postcopy}: {@code criu dump --lazy-pages} keeps the memory
 * in its page pipes and serves it from a port in the source node; in the destination node a
 * {@code criu lazy-pages} daemon fetches it straight over the link (no agents, no relay), on demand and in
 * the background, while {@code criu restore --lazy-pages} runs the tree at once. The small image files are
 * copied locally, as in {@code criu-page-server}. Its total runs until the daemon has every page (it exits
 * then), as {@code ums-postcopy}'s runs until the last page.
 */
public final class CriuLazyPagesMethod implements MigrationMethod {
  public static final String NAME = "criu-lazy-pages";
  private static final int PORT_OFFSET = 101;
  private static final long LAST_PAGE_TIMEOUT_MILLIS = 5 * 60_000;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    try (BaselineRun run = BaselineRun.start(name(), scenario, context, context.tmpfsScratch())) {
      int port = context.workloadPort() + PORT_OFFSET;
      return ProcessTrial.untilTheLastPage(
          ProcessTrial.measure(name(), scenario, context, () -> migrate(run, context, port)));
    }
  }

  private Map<String, Double> migrate(BaselineRun run, BenchContext context, int port) throws IOException {
    Map<String, Double> phases = new LinkedHashMap<>();
    NetworkTestbed.Node source = context.source();
    NetworkTestbed.Node destination = context.destination();
    long start = System.nanoTime();
    context.progress().phase("checkpoint (criu dump --lazy-pages)");
    List<String> dumpArgs = Criu.dumpArguments(run.pid(), run.sourceImages(), List.of("--lazy-pages", "--address",
        source.address(), "--port", String.valueOf(port)));
    try (ChildProcess dump = ChildProcess.start("criu dump --lazy-pages",
        Criu.command(source, dumpArgs, run.dir().resolve("dump.log")), run.dir().resolve("dump.out"))) {
      // the dump listens once every image but the pages is written and the tree is frozen for good
      awaitListening(port, dump, run.dir().resolve("dump.log"));
      phases.put("checkpoint", ProcessTrial.millisSince(start));

      run.copyImageFiles(phases);

      context.progress().phase("criu lazy-pages, then criu restore --lazy-pages");
      Path daemonLog = run.dir().resolve("lazy-pages.log");
      try (ChildProcess daemon = ChildProcess.start("criu lazy-pages", Criu.command(destination, List.of(
              "lazy-pages", "-D", run.destinationImages().toString(), "--page-server", "--address",
              source.address(), "--port", String.valueOf(port)), daemonLog),
          run.dir().resolve("lazy-pages.out"))) {
        Path socket = run.destinationImages().resolve("lazy-pages.socket");
        Waits.until("criu lazy-pages listening on " + socket, Duration.ofSeconds(10), 2, () -> {
          if (!daemon.isAlive()) {
            throw new IllegalStateException("criu lazy-pages exited early: " + Commands.tail(daemonLog));
          }
          return Files.exists(socket);
        });
        long restoreStart = System.nanoTime();
        Criu.restore(destination, run.destinationImages(), run.restoredPidFile(), run.dir(), List.of("--lazy-pages"));
        long restored = System.nanoTime();
        phases.put("restore", ProcessTrial.millisSince(restoreStart));

        context.progress().phase("pages following (criu lazy-pages)");
        int daemonExit = daemon.waitFor(LAST_PAGE_TIMEOUT_MILLIS);
        if (daemonExit != 0) {
          throw new IllegalStateException("criu lazy-pages ended with " + daemonExit + ": " + Commands.tail(daemonLog));
        }
        phases.put("postCopy", ProcessTrial.millisSince(restored));
        phases.put("total", ProcessTrial.millisSince(start));
      }
      int dumpExit = dump.waitFor(30_000);
      if (dumpExit != 0) {
        throw new IllegalStateException("criu dump --lazy-pages ended with " + dumpExit + ": "
            + Commands.tail(run.dir().resolve("dump.log")));
      }
    }
    return phases;
  }

  /**
   * Polls the dump's own view of its node's TCP sockets ({@code /proc/<pid>/net/tcp}: nsenter runs CRIU in
   * its own process, in the source node's namespace) every millisecond: starting a process to ask would
   * cost the baseline more than the wait.
   */
  private static void awaitListening(int port, ChildProcess dump, Path dumpLog) {
    Path sockets = Path.of("/proc", String.valueOf(dump.pid()), "net", "tcp");
    String listening = String.format(":%04X 00000000:0000 0A", port);
    Waits.until("criu dump --lazy-pages serving on " + port, Duration.ofSeconds(60), 1, () -> {
      if (!dump.isAlive()) {
        throw new IllegalStateException("criu dump --lazy-pages exited before serving pages: " + Commands.tail(dumpLog));
      }
      try (InputStream in = Files.newInputStream(sockets)) {
        return new String(in.readAllBytes(), StandardCharsets.US_ASCII).contains(listening);
      } catch (IOException gone) {
        return false;
      }
    });
  }
}
