package io.ums.agent.criu;

import io.ums.agent.files.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mount namespace of a workload that runs in a user namespace of its own (a process workload with a
 * {@code user}): CRIU dumps it with the tree. Of the host's mounts it keeps only {@link #KEPT}; at the dump
 * they are named external ({@code --external mnt[MOUNTPOINT]:KEY}), and at the restore each is bound from
 * this node's own mount at the same place, like the namespace's root ({@code --root}). CRIU needs those
 * sources without mounts below them (a recursive source has children the user namespace may not see
 * uncovered: "Can't bind-mount ... Invalid argument"), so they are fresh non-recursive bind mounts, unmounted
 * once the restore is over. Blocking (reads /proc, runs mount).
 */
public final class WorkloadMounts implements AutoCloseable {
  /** Mount points such a workload keeps from its node (besides / and its own /proc). */
  public static final List<String> KEPT = List.of("/sys", "/dev", "/dev/shm", "/dev/pts", "/dev/mqueue");
  private static final long MOUNT_TIMEOUT_MILLIS = 30_000;
  private static final Logger LOG = LoggerFactory.getLogger(WorkloadMounts.class);

  private static final Path MOUNTS_DIR = Path.of("/run/ums-restore-mounts");
  /** restore-AGENTPID-random: whose restore made it (several agents share a machine in local mode). */
  private static final Pattern OWNED_DIR = Pattern.compile("restore-(\\d+)-.+");

  private final Path dir;
  private final List<Path> mounted;
  private final List<String> arguments;

  private WorkloadMounts(Path dir, List<Path> mounted, List<String> arguments) {
    this.dir = dir;
    this.mounted = mounted;
    this.arguments = arguments;
  }

  /** {@code criu dump} arguments for the tree rooted at {@code pid}: empty unless it has its own mounts. */
  static List<String> dumpArguments(long pid) {
    Path proc = Path.of("/proc", Long.toString(pid));
    if (!ownNamespace(proc, "mnt")) {
      return List.of();
    }
    List<String> mountPoints = mountPoints(proc.resolve("mountinfo"));
    List<String> args = new ArrayList<>();
    for (String mountPoint : KEPT) {
      if (mountPoints.contains(mountPoint)) {
        args.add("--external");
        args.add("mnt[" + mountPoint + "]:" + key(mountPoint));
      }
    }
    return args;
  }

  /** Whether the images hold a mount namespace of their own (the tree was dumped with one). */
  static boolean hasMountNamespace(Path imagesDir) {
    return hasImage(imagesDir, "mountpoints-");
  }

  /** Whether the images hold a user namespace (live connections cannot be repaired inside one). */
  static boolean hasUserNamespace(Path imagesDir) {
    return hasImage(imagesDir, "userns-");
  }

  /**
   * Binds this node's root and kept mounts under a fresh directory of {@link #MOUNTS_DIR}; close() unmounts
   * them and removes the (then empty) directories. Never under a session directory: a recursive delete of
   * the session would walk into the bound root.
   */
  static WorkloadMounts bind() throws IOException {
    List<Path> mounted = new ArrayList<>();
    List<String> args = new ArrayList<>();
    Path workDir = Files.createTempDirectory(Files.createDirectories(MOUNTS_DIR),
        "restore-" + ProcessHandle.current().pid() + "-");
    WorkloadMounts mounts = new WorkloadMounts(workDir, mounted, args);
    try {
      Path root = Files.createDirectories(workDir.resolve("mount-root"));
      bind(Path.of("/"), root);
      mounted.add(root);
      args.add("--root");
      args.add(root.toString());
      List<String> nodeMounts = mountPoints(Path.of("/proc/self/mountinfo"));
      for (String mountPoint : KEPT) {
        if (nodeMounts.contains(mountPoint)) {
          Path source = Files.createDirectories(workDir.resolve("mount-" + key(mountPoint)));
          bind(Path.of(mountPoint), source);
          mounted.add(source);
          args.add("--external");
          args.add("mnt[" + key(mountPoint) + "]:" + source);
        }
      }
      return mounts;
    } catch (IOException | RuntimeException e) {
      mounts.close();
      throw e;
    }
  }

  /**
   * At an agent's start: the directories of restores whose agent is gone (killed in the middle of one, so
   * close() never ran) are detached and deleted; those of live agents stay. How many went. Blocking.
   */
  public static int sweepOrphans() {
    return sweepOrphans(MOUNTS_DIR);
  }

  static int sweepOrphans(Path mountsDir) {
    int swept = 0;
    try (Stream<Path> dirs = Files.list(mountsDir)) {
      for (Path dir : dirs.toList()) {
        Matcher owner = OWNED_DIR.matcher(dir.getFileName().toString());
        if (owner.matches() && ProcessHandle.of(Long.parseLong(owner.group(1))).isEmpty()) {
          try {
            FileTrees.delete(dir);
            swept++;
          } catch (IOException e) {
            LOG.warn("cannot remove {}, left by a restore whose agent is gone: {}", dir, e.getMessage());
          }
        }
      }
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException e) {
      LOG.warn("cannot list {}: {}", mountsDir, e.getMessage());
    }
    return swept;
  }

  List<String> restoreArguments() {
    return List.copyOf(arguments);
  }

  @Override
  public void close() {
    for (int i = mounted.size() - 1; i >= 0; i--) {
      try {
        run(List.of("umount", "-l", mounted.get(i).toString()));
      } catch (IOException e) {
        // left mounted (its directory then stays, non-empty): never removed recursively
      }
    }
    mounted.clear();
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path entry : entries.toList()) {
        Files.deleteIfExists(entry); // an empty directory once unmounted; a mounted one refuses
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // a bind still mounted keeps its directory
    }
  }

  private static String key(String mountPoint) {
    return "ums" + mountPoint.replace('/', '-');
  }

  private static void bind(Path source, Path target) throws IOException {
    run(List.of("mount", "--bind", source.toString(), target.toString()));
  }

  private static void run(List<String> command) throws IOException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(MOUNT_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish within " + MOUNT_TIMEOUT_MILLIS + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", command), e);
    }
    if (process.exitValue() != 0) {
      String output = new String(process.getInputStream().readAllBytes()).trim();
      throw new IOException(String.join(" ", command) + " failed (exit " + process.exitValue() + "): " + output);
    }
  }

  private static boolean ownNamespace(Path proc, String kind) {
    try {
      return !Files.readSymbolicLink(proc.resolve("ns").resolve(kind))
          .equals(Files.readSymbolicLink(Path.of("/proc/self/ns").resolve(kind)));
    } catch (IOException e) {
      return false;
    }
  }

  /** Mount points of a mountinfo file (the fifth field; octal escapes such as \040 left as they are). */
  private static List<String> mountPoints(Path mountinfo) {
    try {
      return Files.readAllLines(mountinfo).stream().map(line -> line.split(" ")).filter(f -> f.length > 4)
          .map(f -> f[4]).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private static boolean hasImage(Path imagesDir, String prefix) {
    try (Stream<Path> images = Files.list(imagesDir)) {
      return images.anyMatch(image -> image.getFileName().toString().startsWith(prefix));
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether process {@code pid} lives in a user namespace other than the agent's. */
  public static boolean inOwnUserNamespace(long pid) {
    return ownNamespace(Path.of("/proc", Long.toString(pid)), "user");
  }
}
