package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** Reads the interesting part of a CRIU log: its error lines, without the harmless rlimit one. */
public final class CriuLog {
  private static final int MAX_LINES = 4;

  private CriuLog() {}

  /** The last few "Error" lines of the log (or its last lines when it has none), one string. */
  public static String errors(Path log) {
    List<String> lines;
    try {
      lines = Files.readAllLines(log);
    } catch (IOException e) {
      return "(no CRIU log at " + log + ")";
    }
    List<String> errors = lines.stream()
        .filter(line -> line.contains("Error") && !line.contains("RLIMIT_NOFILE"))
        .collect(Collectors.toList());
    List<String> chosen = errors.isEmpty() ? lines : errors;
    return chosen.subList(Math.max(0, chosen.size() - MAX_LINES), chosen.size()).stream()
        .map(String::strip).collect(Collectors.joining(" | "));
  }
}
