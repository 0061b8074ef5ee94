package io.ums.agent.workload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Each process workload's working directory: an empty directory of its own under {@link #ROOT}, the same
 * path on every node (CRIU restores the cwd, so the destination creates it before a restore).
 *
 * <p>Why not "/": a workload is the init of its own PID namespace but sees the node's /proc, so CRIU's
 * parasite cannot use /proc/self and mounts a proc of its own at {@code proc.crtools}, relative to the
 * task's cwd (criu/pie/parasite.c, get_proc_fd). Two dumps at once of workloads sharing a cwd race for that
 * one name and the loser fails ("Can't create a directory (-17)", then "Parasite failed to dump
 * /proc/self/cgroup"): seen in CI while other suites migrated their own workloads, all with cwd "/".
 *
 * <p>A directory goes when its workload goes ({@link #release}), unless a live process still works in it: on
 * one machine the source and its restored copy share the path. What a crash left behind goes at the next
 * agent start ({@link #sweep}), once it is old enough not to be a launch or restore in progress. Both look at
 * every process's {@code /proc/<pid>/cwd}, and that read can block while the process is stuck in an exec
 * (a frozen or ptrace-stopped one), so they run on a thread of their own, never on the agent's start or a
 * removal: at worst a directory stays.
 */
public final class WorkingDirectories {
  private static final Logger LOG = LoggerFactory.getLogger(WorkingDirectories.class);
  public static final Path ROOT = Path.of("/var/lib/ums/cwd");
  private static final long DYING_TREE_MILLIS = 10_000;
  private static final ExecutorService CLEANER = Executors.newSingleThreadExecutor(task -> {
    Thread thread = new Thread(task, "working-directory-cleaner");
    thread.setDaemon(true);
    return thread;
  });

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

  /**
   * Deletes a workload's working directory, with what the workload left in it, once its processes are gone,
   * unless a live process still works in it. Any path not under {@link #ROOT} is left alone. Runs on the
   * cleaner thread; the future completes when it is done.
   */
  public static Future<?> release(Optional<String> path) {
    return CLEANER.submit(() -> path.map(p -> Path.of(p).normalize()).filter(WorkingDirectories::isWorkloadDirectory)
        .filter(WorkingDirectories::freedSoon).ifPresent(WorkingDirectories::delete));
  }

  /**
   * Whether no process works in {@code dir}, waiting up to {@link #DYING_TREE_MILLIS} for one: a removed
   * workload's tree dies after its first process (the namespace init's children are killed as it goes, a
   * wrapper's child by its death signal), so right after the removal its members may still be there, the
   * more so on a loaded machine (CI once saw the directory stay). A live process (a restored copy on this
   * machine) keeps it.
   */
  private static boolean freedSoon(Path dir) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DYING_TREE_MILLIS);
    while (inUse().contains(dir)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /**
   * At agent start: deletes the directories no live process works in that are older than {@code minimumAge}
   * (a younger one may be a launch or a restore of another agent on this machine in progress). Runs on the
   * cleaner thread.
   */
  public static Future<?> sweep(Duration minimumAge) {
    return CLEANER.submit(() -> sweepNow(minimumAge));
  }

  private static void sweepNow(Duration minimumAge) {
    if (!Files.isDirectory(ROOT)) {
      return;
    }
    Set<Path> inUse = inUse();
    FileTime cutoff = FileTime.from(Instant.now().minus(minimumAge));
    try (Stream<Path> dirs = Files.list(ROOT)) {
      List<Path> stale = dirs.filter(dir -> !inUse.contains(dir)).filter(dir -> olderThan(dir, cutoff)).toList();
      stale.forEach(WorkingDirectories::delete);
      if (!stale.isEmpty()) {
        LOG.info("removed {} working directories no workload uses under {}", stale.size(), ROOT);
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("could not sweep {}: {}", ROOT, e.toString());
    }
  }

  private static boolean isWorkloadDirectory(Path dir) {
    return dir.startsWith(ROOT) && dir.getNameCount() == ROOT.getNameCount() + 1;
  }

  private static boolean olderThan(Path dir, FileTime cutoff) {
    try {
      return Files.getLastModifiedTime(dir).compareTo(cutoff) < 0;
    } catch (IOException gone) {
      return false;
    }
  }

  /** The working directories of every live process on this machine. */
  private static Set<Path> inUse() {
    Set<Path> dirs = new HashSet<>();
    try (Stream<Path> processes = Files.list(Path.of("/proc"))) {
      processes.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).forEach(p -> {
        try {
          dirs.add(Files.readSymbolicLink(p.resolve("cwd")));
        } catch (IOException | UnsupportedOperationException exitedOrNotOurs) {
          // a process that exited meanwhile works nowhere
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list /proc", e);
    }
    return dirs;
  }

  private static void delete(Path dir) {
    try (Stream<Path> tree = Files.walk(dir)) {
      for (Path path : tree.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("could not remove working directory {}: {}", dir, e.toString());
    }
  }
}
