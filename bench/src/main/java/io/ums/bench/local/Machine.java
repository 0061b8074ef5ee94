package io.ums.bench.local;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** One line describing the machine a figure was measured on. */
public final class Machine {
  private Machine() {}

  public static String describe() {
    String cpu = firstLine("/proc/cpuinfo", "model name").replaceFirst(".*:\\s*", "");
    long memKb = Long.parseLong(firstLine("/proc/meminfo", "MemTotal").replaceAll("\\D+", ""));
    String criu = HostCommand.run("criu", "--version").output().lines()
        .filter(l -> l.startsWith("Version")).findFirst().orElse("CRIU unknown").replace("Version: ", "CRIU ");
    return String.format(Locale.ROOT, "%s, %d cores, %.0f GiB RAM, Linux %s, Java %s, %s", cpu,
        Runtime.getRuntime().availableProcessors(), memKb / 1048576.0, System.getProperty("os.version"),
        System.getProperty("java.version"), criu);
  }

  private static String firstLine(String file, String prefix) {
    try {
      return Files.readAllLines(Path.of(file)).stream().filter(l -> l.startsWith(prefix)).findFirst().orElse("?");
    } catch (IOException e) {
      return "?";
    }
  }

  /** The 1-minute load average now: on a shared machine, the context every figure needs. */
  public static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }
}
