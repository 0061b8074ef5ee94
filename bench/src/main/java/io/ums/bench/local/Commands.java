package io.ums.bench.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Runs a long host command (criu, rsync) with a deadline, its output in a log file kept for diagnosis. */
public final class Commands {
  private Commands() {}

  /** A command that failed: exit code and the tail of its output. */
  public static final class CommandFailed extends RuntimeException {
    public CommandFailed(String message) {
      super(message);
    }
  }

  /** Runs to completion or throws {@link CommandFailed} (exit code != 0 or deadline passed). */
  public static void check(String what, List<String> command, Path log, Duration timeout) {
    ChildProcess process = ChildProcess.start(what, command, log);
    int exit = process.waitFor(timeout.toMillis());
    if (process.isAlive()) {
      process.stop(1_000);
      throw new CommandFailed(what + " timed out after " + timeout.toSeconds() + " s; " + tail(log));
    }
    if (exit != 0) {
      throw new CommandFailed(what + " failed (exit " + exit + "): " + tail(log));
    }
  }

  /** The last lines of a log that say something, without CRIU's harmless rlimit warning. */
  public static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log).stream()
          .filter(l -> !l.isBlank() && !l.contains("RLIMIT_NOFILE"))
          .toList();
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 4), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }
}
