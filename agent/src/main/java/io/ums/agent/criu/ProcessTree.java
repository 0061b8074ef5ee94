package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A process tree as /proc shows it: walking it, signalling it, reading its descriptors. Blocking. */
public final class ProcessTree {
  private static final Pattern PIPE = Pattern.compile("pipe:\\[(\\d+)]");
  /** SIGSTOP (19) in the pending masks of /proc/PID/task/TID/status. */
  private static final long SIGSTOP_PENDING = 1L << (19 - 1);

  private ProcessTree() {}

  /** The root and all its descendants (every thread's children), root first. */
  public static List<Long> members(long root) {
    List<Long> members = new ArrayList<>();
    List<Long> pending = new ArrayList<>(List.of(root));
    while (!pending.isEmpty()) {
      long pid = pending.remove(pending.size() - 1);
      if (!Files.exists(Path.of("/proc", Long.toString(pid)))) {
        continue;
      }
      members.add(pid);
      pending.addAll(children(pid));
    }
    return members;
  }

  private static List<Long> children(long pid) {
    List<Long> children = new ArrayList<>();
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks) {
        String text = Files.readString(task.resolve("children")).trim();
        if (!text.isEmpty()) {
          for (String child : text.split(" ")) {
            children.add(Long.parseLong(child));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process went away while we looked: it has no children any more
    }
    return children;
  }

  /** The state letter of /proc/PID/stat (R, S, T, Z...), empty when the process is gone. */
  public static Optional<Character> state(long pid) {
    try {
      String text = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int end = text.lastIndexOf(')');
      return end < 0 || end + 2 >= text.length() ? Optional.empty() : Optional.of(text.charAt(end + 2));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /**
   * True when {@code root} exists and no thread of its tree is stopped, traced, or about to stop: a SIGSTOP
   * still queued counts as stopped. CRIU's {@code --leave-stopped} (compel's unseize) queues SIGSTOP and
   * then detaches; the task reads "R" or "S" until it next gets a CPU, which on a loaded machine can be
   * long after CRIU exited, and only then stops. Threads and children that exited (zombies) are no stop.
   */
  public static boolean running(long root) {
    return running(root, Set.of());
  }

  /** {@link #running(long)}, but the members in {@code keptStopped} (see {@link #stoppedMembers}) may be stopped. */
  public static boolean running(long root, Set<Long> keptStopped) {
    if (!alive(root)) {
      return false;
    }
    for (long pid : members(root)) {
      if (keptStopped.contains(pid)) {
        continue;
      }
      try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
        for (Path task : tasks) {
          if (stoppedOrStopping(task)) {
            return false;
          }
        }
      } catch (IOException e) {
        // the process ended while we looked: it stops nothing
      }
    }
    return true;
  }

  /**
   * True when {@code root} itself exists and is neither stopped nor ended. Unlike {@link #running} it says
   * nothing of the rest of the tree: a restored tree keeps the stops its program made (a child it stopped
   * is restored stopped), and a restore queues no stop of its own.
   */
  public static boolean rootRuns(long root) {
    return state(root).filter(state -> "TtZX".indexOf(state) < 0).isPresent();
  }

  /**
   * Continues every member of the tree whatever it looks like, then says whether it runs. Only once
   * nothing traces the tree any more (CRIU exited): SIGCONT also discards a queued SIGSTOP, which a
   * "not stopped yet" reading would have let through (see {@link #running}).
   */
  public static boolean resume(long root) {
    return resume(root, Set.of());
  }

  /** {@link #resume(long)}, leaving the members in {@code keptStopped} (see {@link #stoppedMembers}) as they are. */
  public static boolean resume(long root, Set<Long> keptStopped) {
    if (!alive(root)) {
      return false;
    }
    List<Long> members = members(root);
    members.removeAll(keptStopped);
    signal(members, "CONT");
    return running(root, keptStopped);
  }

  /**
   * The members of the tree stopped now (state T), as its program left them: read before a freeze, so that
   * resuming the tree after a rollback does not continue what the program itself had stopped.
   */
  public static Set<Long> stoppedMembers(long root) {
    Set<Long> stopped = new TreeSet<>();
    for (long pid : members(root)) {
      if (state(pid).filter(state -> state == 'T').isPresent()) {
        stopped.add(pid);
      }
    }
    return stopped;
  }

  private static boolean stoppedOrStopping(Path task) {
    try {
      String stat = Files.readString(task.resolve("stat"));
      int end = stat.lastIndexOf(')');
      char state = end < 0 || end + 2 >= stat.length() ? 'X' : stat.charAt(end + 2);
      if (state == 'Z' || state == 'X') {
        return false;
      }
      if (state == 'T' || state == 't') {
        return true;
      }
      for (String line : Files.readAllLines(task.resolve("status"))) {
        if ((line.startsWith("SigPnd:") || line.startsWith("ShdPnd:"))
            && (Long.parseUnsignedLong(line.substring(7).trim(), 16) & SIGSTOP_PENDING) != 0) {
          return true;
        }
      }
      return false;
    } catch (IOException | RuntimeException e) {
      return false; // the thread ended while we looked
    }
  }

  public static boolean alive(long pid) {
    return state(pid).map(state -> state != 'Z' && state != 'X').orElse(false);
  }

  /** Sends {@code signal} (e.g. "CONT", "KILL") to every member of the tree. */
  public static void signalAll(long root, String signal) {
    signal(members(root), signal);
  }

  private static void signal(List<Long> members, String signal) {
    if (members.isEmpty()) {
      return;
    }
    List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
    members.forEach(pid -> command.add(Long.toString(pid)));
    try {
      Process kill = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      kill.waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run kill: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The inode of the pipe open on descriptor {@code fd} of {@code pid}, when it is a pipe. */
  public static Optional<Long> pipeInode(long pid, int fd) {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", Integer.toString(fd)))
          .toString();
      Matcher matcher = PIPE.matcher(target);
      return matcher.matches() ? Optional.of(Long.parseLong(matcher.group(1))) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The resident memory of the tree under {@code root} (VmRSS summed; shared pages counted per process). */
  public static long residentBytes(long root) {
    long total = 0;
    for (long pid : members(root)) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
          if (line.startsWith("VmRSS:")) {
            total += Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
          }
        }
      } catch (IOException | NumberFormatException e) {
        // the process ended meanwhile
      }
    }
    return total;
  }
}
