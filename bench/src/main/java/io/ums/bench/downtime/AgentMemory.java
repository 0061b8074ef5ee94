package io.ums.bench.downtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The agents' peak resident memory during one migration: the kernel's high-water mark (VmHWM in
 * /proc/PID/status), reset just before the migration by writing 5 to /proc/PID/clear_refs, read right after
 * it (post-copy: after the last page). Node by node: source first.
 */
final class AgentMemory {
  private final List<Long> pids;
  private final Map<String, Double> peaks = new LinkedHashMap<>();

  AgentMemory(List<Long> pids) {
    this.pids = pids;
  }

  void resetPeaks() {
    for (long pid : pids) {
      try {
        Files.writeString(Path.of("/proc", String.valueOf(pid), "clear_refs"), "5");
      } catch (IOException e) {
        System.err.println("note: cannot reset the peak RSS of agent " + pid + ": " + e.getMessage());
      }
    }
  }

  void readPeaks() {
    String[] names = {"sourceAgentPeakRssMiB", "destinationAgentPeakRssMiB"};
    for (int node = 0; node < Math.min(pids.size(), names.length); node++) {
      Long kib = highWaterMarkKib(pids.get(node));
      if (kib != null) {
        peaks.put(names[node], kib / 1024.0);
      }
    }
  }

  Map<String, Double> peaks() {
    return peaks;
  }

  static Long highWaterMarkKib(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      System.err.println("note: cannot read the peak RSS of agent " + pid + ": " + e.getMessage());
    }
    return null;
  }
}
