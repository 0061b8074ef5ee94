package io.ums.testkit;

import io.ums.host.HostCommand;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What the root namespace's IPv4 routing table says about a testbed's subnet. Another bridge that holds the
 * same /24 (a testbed a killed run left behind, or a concurrent one) wins the route lookup when its route came
 * first, even with no port and its link down: the host's packets to the nodes then go into that bridge and
 * die there ("No route to host" after the ARP timeout), while the nodes themselves run fine. Blocking.
 */
final class HostRoutes {
  private HostRoutes() {}

  /** The routes of the main table that overlap {@code subnet} (a /24 written "10.a.b."), default routes aside. */
  static List<String> overlapping(String subnet) {
    long network = toLong(subnet + "0");
    return Arrays.stream(HostCommand.check("ip", "-4", "-o", "route", "show").split("\n"))
        .map(String::strip)
        .filter(line -> !line.isEmpty() && !line.startsWith("default"))
        .filter(line -> overlaps(line.split("\\s+")[0], network))
        .toList();
  }

  /** The device the host sends packets to {@code address} through, as {@code ip route get} says. */
  static Optional<String> deviceFor(String address) {
    HostCommand.Result route = HostCommand.run("ip", "-4", "route", "get", address);
    if (!route.ok()) {
      return Optional.empty();
    }
    List<String> words = Arrays.asList(route.output().split("\\s+"));
    int dev = words.indexOf("dev");
    return dev < 0 || dev + 1 >= words.size() ? Optional.empty() : Optional.of(words.get(dev + 1));
  }

  /** Whether the route destination {@code cidr} ("a.b.c.d/n" or a host "a.b.c.d") and the /24 at {@code network} share an address. */
  private static boolean overlaps(String cidr, long network) {
    String[] parts = cidr.split("/");
    if (!parts[0].matches("\\d+\\.\\d+\\.\\d+\\.\\d+")) {
      return false;
    }
    int length = parts.length > 1 ? Integer.parseInt(parts[1]) : 32;
    int common = Math.min(length, 24);
    long mask = common == 0 ? 0 : (0xffffffffL << (32 - common)) & 0xffffffffL;
    return (toLong(parts[0]) & mask) == (network & mask);
  }

  private static long toLong(String address) {
    long value = 0;
    for (String octet : address.split("\\.")) {
      value = (value << 8) | Integer.parseInt(octet);
    }
    return value;
  }
}
