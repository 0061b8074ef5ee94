package io.ums.bench;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** What a bench or demo run could leave on the host, listed so a test can assert that nothing is left. */
public final class HostLeftovers {
  private HostLeftovers() {}

  public static List<String> namespaces(String prefix) {
    return HostCommand.run("ip", "netns", "list").output().lines()
        .map(l -> l.split(" ")[0]).filter(n -> n.startsWith(prefix)).toList();
  }

  /** Links (veths, bridges) with the prefix; their tc qdiscs go with them. */
  public static List<String> links(String prefix) {
    return HostCommand.run("ip", "-o", "link", "show").output().lines()
        .map(l -> l.split(":"))
        .filter(parts -> parts.length > 1)
        .map(parts -> parts[1].trim().split("@")[0])
        .filter(n -> n.startsWith(prefix))
        .toList();
  }

  public static List<String> tcRules(String prefix) {
    return HostCommand.run("tc", "qdisc", "show").output().lines().filter(l -> l.contains(" dev " + prefix)).toList();
  }

  /** Processes whose command line mentions {@code marker} (a scratch directory prefix, a netns prefix). */
  public static List<String> processes(String marker) {
    long self = ProcessHandle.current().pid();
    return ProcessHandle.allProcesses()
        .filter(p -> p.pid() != self)
        .filter(p -> p.info().commandLine().map(c -> c.contains(marker)).orElse(false))
        .map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
        .toList();
  }

  public static List<Path> scratchDirectories(String prefix) throws IOException {
    List<Path> found = new ArrayList<>();
    for (Path parent : List.of(Path.of("/var/tmp"), Path.of("/dev/shm"))) {
      try (Stream<Path> entries = Files.list(parent)) {
        entries.filter(p -> p.getFileName().toString().startsWith(prefix)).forEach(found::add);
      }
    }
    return found;
  }

  public static long criuLockRulesInRootNamespace() {
    return HostCommand.run("iptables-save").output().lines().filter(l -> l.contains("0xc114")).count();
  }
}
