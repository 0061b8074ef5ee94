package io.ums.bench.downtime;

import io.ums.bench.local.Cleanup;
import io.ums.bench.local.JsonHttp;
import io.ums.bench.local.Machine;
import io.ums.bench.local.Scratch;
import io.ums.bench.local.Testbeds;
import io.ums.testkit.MemService;
import io.ums.testkit.NetworkTestbed;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The first migration after UMS starts against the next ones, on one testbed: each round starts two agents
 * and a coordinator from the built jars exactly as {@code ./ums demo} does (so the first migration of a round
 * meets JVMs that have moved nothing yet), moves the same memservice {@code migrations} times with
 * {@code POST /migrate}, each run verified by checksum and counter as the downtime bench does, then stops
 * them. Besides wall times it records the CPU the two agent JVMs spent per run, which a busy machine
 * disturbs much less than wall time.
 */
public final class FirstMigrationBench {
  /** Everything the command line decides. */
  public record Settings(int sizeMiB, String link, int migrations, int rounds, Path out, String netnsPrefix,
      int workloadPort, String command) {}

  /**
   * One migration of a round: the bench's row and the CPU milliseconds both agent JVMs used for the run
   * (launch, verification, migration, removal; their CRIU children not included), or -1 if unknown.
   */
  public record Run(int round, ResultRow row, long agentsCpuMs) {}

  /** The runs and the files written. */
  public record Outcome(List<Run> runs, List<Path> files) {}

  private final Settings settings;
  private final PrintStream log;

  public FirstMigrationBench(Settings settings, PrintStream log) {
    this.settings = settings;
    this.log = log;
  }

  public Outcome run() throws IOException {
    List<Run> runs = new ArrayList<>();
    Files.createDirectories(settings.out());
    String machine = Machine.describe() + "; load average " + Machine.loadAverage() + " at start";
    try (Cleanup cleanup = new Cleanup()) {
      Path disk = Scratch.create(Path.of("/var/tmp"), "ums-bench-", cleanup);
      Path tmpfs = Scratch.create(Path.of("/dev/shm"), "ums-bench-", cleanup);
      Path memservice = MemService.build(disk.resolve("bin"));
      NetworkTestbed testbed = Testbeds.twoNodes(settings.netnsPrefix(), cleanup);
      testbed.limitRate(settings.link());
      Progress progress = new Progress(log, settings.rounds() * settings.migrations());
      BenchContext context = new BenchContext(testbed, memservice, disk, tmpfs, new JsonHttp(), progress,
          settings.workloadPort());
      for (int round = 1; round <= settings.rounds() && !cleanup.isClosed(); round++) {
        runRound(round, context, runs);
      }
      testbed.limitRate("unlimited");
    }
    machine += ", " + Machine.loadAverage() + " at end";
    return new Outcome(runs, FirstMigrationReport.write(settings.out(), runs, settings.command(), machine));
  }

  private void runRound(int round, BenchContext context, List<Run> runs) throws IOException {
    try (Cleanup roundCleanup = new Cleanup()) {
      UmsNodes nodes = new UmsNodes(context.tmpfsScratch().resolve("ums-round-" + round),
          settings.out().resolve("logs").resolve("round-" + round), roundCleanup);
      UmsMethod ums = new UmsMethod(nodes, UmsMethod.Kind.PROCESS);
      List<Long> agentPids = startAgents(nodes, context);
      for (int run = 1; run <= settings.migrations(); run++) {
        Scenario scenario = new Scenario(settings.sizeMiB(), settings.link(), run, false);
        context.progress().start("ums round " + round, scenario);
        long cpuBefore = AgentCpu.millis(agentPids);
        ResultRow row = runOne(ums, scenario, context);
        long cpuAfter = AgentCpu.millis(agentPids);
        context.progress().finish(row);
        runs.add(new Run(round, row, cpuBefore < 0 || cpuAfter < 0 ? -1 : cpuAfter - cpuBefore));
        FirstMigrationReport.writeJson(settings.out(), runs);
      }
    }
  }

  /** Starts the round's agents and coordinator before the first run, so their start is not part of it. */
  private static List<Long> startAgents(UmsNodes nodes, BenchContext context) {
    try {
      return nodes.api(context).cluster().agentPids();
    } catch (RuntimeException e) {
      return List.of(); // every run of the round then fails with the start failure
    }
  }

  private static ResultRow runOne(UmsMethod method, Scenario scenario, BenchContext context) {
    try {
      return method.run(scenario, context);
    } catch (Exception | AssertionError e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      return ResultRow.failed(method.name(), scenario, message);
    }
  }

  /** User plus system CPU of processes, from /proc (clock ticks of 10 ms, USER_HZ on Linux). */
  static final class AgentCpu {
    private static final long MILLIS_PER_TICK = 10;

    private AgentCpu() {}

    /** The sum over {@code pids}, or -1 when one of them cannot be read. */
    static long millis(List<Long> pids) {
      if (pids.isEmpty()) {
        return -1;
      }
      long total = 0;
      for (long pid : pids) {
        try {
          String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
          // fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15
          String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          total += (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * MILLIS_PER_TICK;
        } catch (IOException | RuntimeException e) {
          return -1;
        }
      }
      return total;
    }
  }
}
