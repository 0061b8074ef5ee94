package io.ums.bench.downtime;

import io.ums.bench.local.Cleanup;
import io.ums.bench.local.Commands;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The original UMS way: {@code criu dump} to disk on the source node, {@code rsync -az} over SSH to a real
 * sshd in the destination node, {@code criu restore} there.
 */
public final class RsyncSshMethod implements MigrationMethod {
  private static final Duration RSYNC_TIMEOUT = Duration.ofMinutes(10);
  private final Cleanup cleanup;
  private SshServer sshd;

  public RsyncSshMethod(Cleanup cleanup) {
    this.cleanup = cleanup;
  }

  @Override
  public String name() {
    return "rsync-ssh";
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    if (sshd == null) {
      context.progress().phase("starting sshd on " + context.destination().name());
      sshd = SshServer.start(context.destination(), context.diskScratch().resolve("sshd"), cleanup);
    }
    // "to disk", as the original: the images go to the disk scratch directory, not tmpfs
    try (BaselineRun run = BaselineRun.start(name(), scenario, context, context.diskScratch())) {
      return ProcessTrial.measure(name(), scenario, context, () -> migrate(run, context));
    }
  }

  private Map<String, Double> migrate(BaselineRun run, BenchContext context) {
    Map<String, Double> phases = new LinkedHashMap<>();
    long start = System.nanoTime();
    context.progress().phase("checkpoint (criu dump to disk)");
    Criu.dump(context.source(), run.pid(), run.sourceImages(), run.dir(), List.of());
    phases.put("checkpoint", ProcessTrial.millisSince(start));

    long transferStart = System.nanoTime();
    context.progress().phase("transfer (rsync -az over ssh)");
    Path log = run.dir().resolve("rsync.out");
    Commands.check("rsync to " + context.destination().name(), context.source().inNode(List.of(
        "rsync", "-az", "-e", sshd.rsyncShell(), run.sourceImages() + "/", sshd.target(run.destinationImages()))),
        log, RSYNC_TIMEOUT);
    phases.put("transfer", ProcessTrial.millisSince(transferStart));

    run.restore(phases, start);
    return phases;
  }
}
