package io.ums.agent.workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;

/**
 * Each process workload's working directory: an empty directory of its own under {@link #ROOT}, the same
 * path on every node (CRIU restores the cwd, so the destination creates it before a restore).
 *
 * <p>Why not "/": a workload is the init of its own PID namespace but sees the node's /proc, so CRIU's
 * parasite cannot use /proc/self and mounts a proc of its own at {@code proc.crtools}, relative to the
 * task's cwd (criu/pie/parasite.c, get_proc_fd). Two dumps at once of workloads sharing a cwd race for that
 * one name and the loser fails ("Can't create a directory (-17)", then "Parasite failed to dump
 * /proc/self/cgroup"): seen in CI while other suites migrated their own workloads, all with cwd "/".
 */
public final class WorkingDirectories {
  public static final Path ROOT = Path.of("/var/lib/ums/cwd");

  private WorkingDirectories() {}

  /** A fresh, empty directory for a new workload. Blocking. */
  static Path fresh() throws IOException {
    return Files.createDirectories(ROOT.resolve(UUID.randomUUID().toString()));
  }

  /** The working directory of process {@code pid}, empty when it cannot be read. Blocking. */
  public static Optional<String> of(long pid) {
    try {
      return Optional.of(Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd")).toString());
    } catch (IOException | UnsupportedOperationException e) {
      return Optional.empty();
    }
  }

  /**
   * Before a restore: creates a workload working directory the source named, if it is one of these (any
   * other path is the workload's own business, as every other file it uses). Blocking.
   */
  public static void recreate(String path) throws IOException {
    Path cwd = Path.of(path).normalize();
    if (cwd.startsWith(ROOT) && !cwd.equals(ROOT)) {
      Files.createDirectories(cwd);
    }
  }
}
