package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A process tree as /proc shows it: walking it, signalling it, reading its descriptors. Blocking. */
public final class ProcessTree {
  private static final Pattern PIPE = Pattern.compile("pipe:\\[(\\d+)]");

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

  /** True when the process exists and is neither a zombie nor stopped. */
  public static boolean running(long pid) {
    return state(pid).map(state -> state != 'Z' && state != 'X' && state != 'T' && state != 't').orElse(false);
  }

  public static boolean alive(long pid) {
    return state(pid).map(state -> state != 'Z' && state != 'X').orElse(false);
  }

  /** Sends {@code signal} (e.g. "CONT", "KILL") to every member of the tree. */
  public static void signalAll(long root, String signal) {
    List<Long> members = members(root);
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
