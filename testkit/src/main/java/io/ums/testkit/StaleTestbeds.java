package io.ums.testkit;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What killed runs left of {@link NetworkTestbed}s, told apart from the testbeds of runs still going. Builds of
 * several checkouts run the same tests on one machine at once, so a prefix is no proof of staleness: sweeping
 * every name with it cut a concurrent run's agents off from its host mid-test. Blocking.
 */
final class StaleTestbeds {
  /** Longer than any test keeps a testbed whose namespaces, for a moment, run nothing (an agent restarting). */
  static final Duration STALE_AFTER = Duration.ofHours(1);

  private StaleTestbeds() {}

  /**
   * Removes each namespace named with {@code prefix} that no process is in and that was made more than
   * {@link #STALE_AFTER} ago, then each link named with it whose testbed has no namespace left (a testbed makes
   * its namespaces before its links and removes them first).
   */
  static void remove(String prefix) {
    for (String netns : namespaces()) {
      if (netns.startsWith(prefix) && abandoned(netns)) {
        HostCommand.run("ip", "netns", "del", netns);
      }
    }
    Set<String> testbedsWithNamespaces = namespaces().stream().filter(name -> name.startsWith(prefix))
        .map(name -> name.substring(0, name.length() - 1)).collect(Collectors.toSet());
    for (String line : HostCommand.run("ip", "-o", "link", "show").output().split("\n")) {
      String[] parts = line.split(":");
      if (parts.length > 1) {
        String link = parts[1].trim().split("@")[0];
        // <id>br is the bridge, <id><node letter>h the host end of a node's veth
        if (link.startsWith(prefix) && link.length() > 2 && (link.endsWith("br") || link.endsWith("h"))
            && !testbedsWithNamespaces.contains(link.substring(0, link.length() - 2))) {
          HostCommand.run("ip", "link", "del", link);
        }
      }
    }
  }

  /** Namespaces named with {@code prefix} made more than {@link #STALE_AFTER} ago, with processes in them or not. */
  static List<String> oldNamespaces(String prefix) {
    return namespaces().stream().filter(netns -> netns.startsWith(prefix) && madeLongAgo(netns)).toList();
  }

  private static List<String> namespaces() {
    return Arrays.stream(HostCommand.run("ip", "netns", "list").output().split("\n"))
        .map(line -> line.split(" ")[0].trim()).filter(name -> !name.isEmpty()).toList();
  }

  private static boolean abandoned(String netns) {
    HostCommand.Result pids = HostCommand.run("ip", "netns", "pids", netns);
    return pids.ok() && pids.output().isBlank() && madeLongAgo(netns);
  }

  private static boolean madeLongAgo(String netns) {
    try {
      // the namespace file's times are those of the namespace's nsfs inode: when it was made (or, should the
      // kernel have dropped and remade the inode, later: never too old)
      Instant made = Files.readAttributes(Path.of("/run/netns", netns), BasicFileAttributes.class)
          .lastModifiedTime().toInstant();
      return made.isBefore(Instant.now().minus(STALE_AFTER));
    } catch (IOException e) {
      return false;
    }
  }
}
