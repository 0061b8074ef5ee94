package io.ums.bench.downtime;

import io.ums.bench.local.NodeSweeper;
import io.ums.bench.local.Scratch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The state of one CRIU baseline run: its directories, its workload, and, on close, everything removed
 * whatever happened: the restored process, any memservice left in either node, the iptables locks the
 * tcp-established dump left in the source node, the image files.
 */
final class BaselineRun implements AutoCloseable {
  private final BenchContext context;
  private final Path dir;
  private final BaselineWorkload workload;

  private BaselineRun(BenchContext context, Path dir, BaselineWorkload workload) {
    this.context = context;
    this.dir = dir;
    this.workload = workload;
  }

  static BaselineRun start(String method, Scenario scenario, BenchContext context, Path scratch) {
    Path dir = scratch.resolve(method + "-" + scenario.sizeMiB() + "-" + scenario.link() + "-" + scenario.run());
    try {
      Scratch.deleteTree(dir);
      Files.createDirectories(dir.resolve("source"));
      Files.createDirectories(dir.resolve("destination"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    context.progress().phase("starting the workload");
    BaselineWorkload workload = BaselineWorkload.start(context.source(), context.memservice(),
        context.workloadPort(), scenario.workloadArgs());
    return new BaselineRun(context, dir, workload);
  }

  long pid() {
    return workload.pid();
  }

  Path dir() {
    return dir;
  }

  Path sourceImages() {
    return dir.resolve("source");
  }

  Path destinationImages() {
    return dir.resolve("destination");
  }

  Path restoredPidFile() {
    return dir.resolve("restored.pid");
  }

  /**
   * The image files the dump wrote in the source node, copied to the destination's directory by a local file
   * copy (no network: this favours the baseline), timed into {@code phases} as "transfer".
   */
  void copyImageFiles(Map<String, Double> phases) throws IOException {
    long copyStart = System.nanoTime();
    context.progress().phase("copy image files");
    try (Stream<Path> images = Files.list(sourceImages())) {
      for (Path image : images.toList()) {
        Files.copy(image, destinationImages().resolve(image.getFileName()));
      }
    }
    phases.put("transfer", ProcessTrial.millisSince(copyStart));
  }

  /**
   * The last step of both CRIU baselines: {@code criu restore} in the destination node, timed into
   * {@code phases} as "restore", and "total" since {@code startNanos}.
   */
  void restore(Map<String, Double> phases, long startNanos) {
    long restoreStart = System.nanoTime();
    context.progress().phase("restore (criu restore)");
    Criu.restore(context.destination(), destinationImages(), restoredPidFile(), dir);
    phases.put("restore", ProcessTrial.millisSince(restoreStart));
    phases.put("total", ProcessTrial.millisSince(startNanos));
  }

  @Override
  public void close() {
    try {
      if (Files.exists(restoredPidFile())) {
        long restored = Long.parseLong(Files.readString(restoredPidFile()).trim());
        ProcessHandle.of(restored).ifPresent(ProcessHandle::destroyForcibly);
      }
    } catch (IOException | NumberFormatException unreadable) {
      // the sweep below still finds the process
    }
    workload.close();
    NodeSweeper.kill(context.destination().netns(), "memservice");
    NodeSweeper.kill(context.source().netns(), "memservice");
    NodeSweeper.removeCriuLocks(context.source());
    try {
      Scratch.deleteTree(dir);
    } catch (IOException e) {
      System.err.println("cannot remove " + dir + ": " + e.getMessage());
    }
  }
}
