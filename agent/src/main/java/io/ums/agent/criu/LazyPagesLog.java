package io.ums.agent.criu;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a {@code criu lazy-pages} log (-v4) says about a post-copy: CRIU keeps no statistics file for the
 * daemon, but logs every page fault it serves ("#PF at 0x...") and, per task, "UFFD transferred pages:
 * (copied/total)" when the task is complete. A fault asks for one page; everything else it copied was
 * pushed in the background.
 */
public final class LazyPagesLog {
  private static final Pattern SUMMARY = Pattern.compile("UFFD transferred pages: \\((\\d+)/(\\d+)\\)");

  /**
   * @param faults page faults the daemon served on demand (each fetched one page, or zero-filled a hole)
   * @param copiedPages pages copied into the tasks, on demand and pushed
   * @param totalPages lazy pages the dump left behind
   */
  public record Stats(long faults, long copiedPages, long totalPages) {
    public long pushedPages() {
      return Math.max(0, copiedPages - faults);
    }
  }

  private LazyPagesLog() {}

  public static Stats read(Path log) throws IOException {
    long faults = 0;
    long copied = 0;
    long total = 0;
    try (BufferedReader reader = Files.newBufferedReader(log)) {
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (line.contains("#PF at ")) {
          faults++;
          continue;
        }
        Matcher summary = SUMMARY.matcher(line);
        if (summary.find()) {
          copied += Long.parseLong(summary.group(1));
          total += Long.parseLong(summary.group(2));
        }
      }
    }
    return new Stats(faults, copied, total);
  }
}
