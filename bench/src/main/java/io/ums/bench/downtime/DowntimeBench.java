package io.ums.bench.downtime;

import io.ums.testkit.MemService;
import io.ums.testkit.NetworkTestbed;
import io.ums.bench.local.Cleanup;
import io.ums.bench.local.JsonHttp;
import io.ums.bench.local.Machine;
import io.ums.bench.local.Scratch;
import io.ums.bench.local.Testbeds;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The downtime bench: for every link, size and run, every method on the same testbed, one after the other
 * (interleaved, so slow drift of a noisy machine hits all methods alike). A failing method becomes a failed
 * row and the bench goes on; the result files are rewritten after every row, so an interrupted run keeps
 * what it measured.
 */
public final class DowntimeBench {
  /** Everything the command line decides. */
  public record Settings(List<Integer> sizesMiB, List<String> links, int runs, Path out, boolean compressible,
      List<String> methods, String netnsPrefix, int workloadPort, String command) {}

  /** What a finished bench produced. */
  public record Outcome(List<ResultRow> rows, List<Path> files) {}

  private final Settings settings;
  private final PrintStream log;

  public DowntimeBench(Settings settings, PrintStream log) {
    this.settings = settings;
    this.log = log;
  }

  public Outcome run() throws IOException {
    List<ResultRow> rows = new ArrayList<>();
    Files.createDirectories(settings.out());
    String machine = Machine.describe();
    String loadAtStart = Machine.loadAverage();
    try (Cleanup cleanup = new Cleanup()) {
      Path disk = Scratch.create(Path.of("/var/tmp"), "ums-bench-", cleanup);
      Path tmpfs = Scratch.create(Path.of("/dev/shm"), "ums-bench-", cleanup);
      Path memservice = MemService.build(disk.resolve("bin"));
      NetworkTestbed testbed = Testbeds.twoNodes(settings.netnsPrefix(), cleanup);
      List<MigrationMethod> methods = methods(cleanup, tmpfs);
      int total = settings.links().size() * settings.sizesMiB().size() * settings.runs() * methods.size();
      Progress progress = new Progress(log, total);
      BenchContext context = new BenchContext(testbed, memservice, disk, tmpfs, new JsonHttp(), progress,
          settings.workloadPort());
      for (String link : settings.links()) {
        testbed.limitRate(link);
        for (int size : settings.sizesMiB()) {
          for (int run = 1; run <= settings.runs(); run++) {
            Scenario scenario = new Scenario(size, link, run, settings.compressible());
            for (MigrationMethod method : methods) {
              if (cleanup.isClosed()) {
                return new Outcome(rows, List.of());
              }
              progress.start(method.name(), scenario);
              ResultRow row = runOne(method, scenario, context);
              progress.finish(row);
              rows.add(row);
              ResultFiles.write(settings.out(), rows);
            }
          }
        }
      }
      testbed.limitRate("unlimited");
    }
    return new Outcome(rows, writeReports(rows, machine + "; load average " + loadAtStart + " at start, "
        + Machine.loadAverage() + " at end"));
  }

  private static ResultRow runOne(MigrationMethod method, Scenario scenario, BenchContext context) {
    try {
      return method.run(scenario, context);
    } catch (Exception | AssertionError e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      return ResultRow.failed(method.name(), scenario, message);
    }
  }

  private List<MigrationMethod> methods(Cleanup cleanup, Path tmpfs) {
    List<MigrationMethod> methods = new ArrayList<>();
    UmsNodes umsNodes = new UmsNodes(tmpfs.resolve("ums"), settings.out().resolve("logs"), cleanup);
    for (String name : settings.methods()) {
      methods.add(switch (name) {
        case "ums" -> new UmsMethod(umsNodes, UmsMethod.Kind.PROCESS);
        case "ums-runc" -> new UmsMethod(umsNodes, UmsMethod.Kind.RUNC);
        case "ums-postcopy" -> new UmsMethod(umsNodes, UmsMethod.Kind.POST_COPY);
        case PodMethod.NAME -> new PodMethod(cleanup);
        case "rsync-ssh" -> new RsyncSshMethod(cleanup);
        case "criu-page-server" -> new CriuPageServerMethod();
        case CriuLazyPagesMethod.NAME -> new CriuLazyPagesMethod();
        case "wire" -> new WireMethod();
        default -> throw new IllegalArgumentException("unknown method " + name
            + " (ums, ums-runc, ums-postcopy, ums-pod, rsync-ssh, criu-page-server, criu-lazy-pages, wire)");
      });
    }
    return methods;
  }

  private List<Path> writeReports(List<ResultRow> rows, String machine) throws IOException {
    ResultFiles.write(settings.out(), rows);
    Summary summary = new Summary(rows);
    Path markdown = settings.out().resolve("results.md");
    Files.writeString(markdown, MarkdownReport.render(summary, settings.command(), machine));
    List<Path> files = new ArrayList<>(List.of(settings.out().resolve("results.csv"),
        settings.out().resolve("results.json"), markdown));
    if (settings.methods().contains(PodMethod.NAME)) {
      files.add(PodComparison.write(settings.out(), rows));
    }
    files.addAll(Charts.write(settings.out(), summary));
    return files;
  }
}
