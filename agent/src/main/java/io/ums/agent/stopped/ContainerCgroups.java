package io.ums.agent.stopped;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A container's processes, found through its cgroup in a cgroup v1 hierarchy (the directory is named after the
 * container id: {@code <id>} with the cgroupfs driver, {@code cri-containerd-<id>.scope} with systemd): whether
 * they are stopped, and signals to all of them. Blocking: call from a worker.
 */
public final class ContainerCgroups {
  public static final Path DEFAULT_ROOT = Path.of("/sys/fs/cgroup/freezer");
  private static final int SEARCH_DEPTH = 8;

  private final Path root;

  public ContainerCgroups(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  /** The container's freezer cgroup, anywhere below the root (the kubelet's cgroup root may be nested). */
  public Optional<Path> find(String containerId) {
    String systemd = "-" + containerId + ".scope";
    try (Stream<Path> dirs = Files.find(root, SEARCH_DEPTH, (path, attrs) -> attrs.isDirectory()
        && (path.getFileName().toString().equals(containerId) || path.getFileName().toString().endsWith(systemd)))) {
      return dirs.findFirst();
    } catch (IOException | UncheckedIOException e) {
      throw new IllegalStateException("cannot search " + root + " for container " + containerId + ": "
          + e.getMessage(), e);
    }
  }

  /** Every process in the cgroup and below it, as this agent's pid namespace sees them (hostPID). */
  public List<Long> pids(Path cgroup) throws IOException {
    List<Long> pids = new ArrayList<>();
    for (Path each : subtree(cgroup)) {
      try {
        for (String line : Files.readAllLines(each.resolve("cgroup.procs"), StandardCharsets.US_ASCII)) {
          if (!line.isBlank()) {
            pids.add(Long.parseLong(line.strip()));
          }
        }
      } catch (NoSuchFileException gone) {
        // the runtime removed it meanwhile
      }
    }
    return pids;
  }

  /** The processes of the cgroup that are not stopped (state T) or tracing-stopped (t). */
  public List<Long> running(Path cgroup) throws IOException {
    List<Long> running = new ArrayList<>();
    for (long pid : pids(cgroup)) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        char state = stat.charAt(stat.lastIndexOf(')') + 2);
        if (state != 'T' && state != 't' && state != 'Z' && state != 'X') {
          running.add(pid);
        }
      } catch (NoSuchFileException gone) {
        // exited meanwhile
      }
    }
    return running;
  }

  /**
   * Sends {@code signal} (a name: CONT, KILL) to every process of the cgroup; the count. Not under a freeze: a
   * stopped task frozen by the cgroup freezer may miss the wake-up of a SIGCONT, and stopped tasks do not run
   * until the signal reaches them anyway.
   */
  public int signalAll(Path cgroup, String signal) throws IOException {
    List<Long> pids = pids(cgroup);
    if (!pids.isEmpty()) {
      kill(signal, pids);
    }
    return pids.size();
  }

  private static void kill(String signal, List<Long> pids) throws IOException {
    List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
    pids.forEach(pid -> command.add(Long.toString(pid)));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("kill -" + signal + " did not end within 10 s");
      }
      // a process that exited between the listing and the signal is no failure
      if (process.exitValue() != 0 && !output.contains("No such process")) {
        throw new IOException("kill -" + signal + " " + pids + " failed: " + output.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while signalling " + pids, e);
    }
  }

  private static List<Path> subtree(Path cgroup) throws IOException {
    if (!Files.isDirectory(cgroup)) {
      return List.of();
    }
    try (Stream<Path> dirs = Files.walk(cgroup)) {
      return dirs.filter(Files::isDirectory).sorted(Comparator.comparingInt(Path::getNameCount)).toList();
    }
  }
}
