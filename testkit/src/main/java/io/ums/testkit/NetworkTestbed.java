package io.ums.testkit;

import io.ums.host.HostCommand;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Several "nodes" on one machine: one network namespace per node, each joined by a veth pair to a bridge
 * in the root namespace, all in one private /24. The root namespace holds the bridge address (.254), so a
 * coordinator or a probe running on the host reaches every node, and nodes reach each other through the
 * bridge. Traffic never leaves the machine.
 *
 * <p>Names start with a caller-given prefix plus a random suffix, so concurrent testbeds never clash, and
 * {@link #removeStale(String)} can sweep what a killed run left behind. Blocking: set-up code only.
 */
public final class NetworkTestbed implements AutoCloseable {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int SUBNET_ATTEMPTS = 20;

  public record Node(String name, String netns, String vethHost, String vethNode, String address) {
    /** Path for {@code nsenter --net=...}. */
    public String netnsPath() {
      return "/run/netns/" + netns;
    }

    /**
     * How the host routes to this node ({@code ip route get}), for a failure message: a device other than the
     * testbed's bridge means the node is cut off from the host, however well it runs.
     */
    public String routeFromHost() {
      return HostCommand.run("ip", "-4", "route", "get", address).output();
    }

    /** The command prefixed so that it runs inside this node's network namespace. */
    public List<String> inNode(List<String> command) {
      List<String> wrapped = new ArrayList<>(List.of("nsenter", "--net=" + netnsPath()));
      wrapped.addAll(command);
      return wrapped;
    }
  }

  private final String id;
  private final String bridge;
  private final String subnetPrefix;
  private final List<Node> nodes = new ArrayList<>();
  private String rateLimit;

  private NetworkTestbed(String prefix, int nodeCount, String subnetPrefix) {
    this.id = prefix + Integer.toString(RANDOM.nextInt(36 * 36 * 36 * 36), 36);
    this.bridge = id + "br";
    this.subnetPrefix = subnetPrefix;
    for (int i = 0; i < nodeCount; i++) {
      String suffix = String.valueOf((char) ('a' + i));
      nodes.add(new Node("node-" + suffix, id + suffix, id + suffix + "h", id + suffix + "n",
          subnetPrefix + (i + 1)));
    }
  }

  /**
   * Creates the namespaces, veths and bridge in a /24 of 10.200.0.0/16-10.249.0.0/16 that no other route of
   * the host covers; on any failure removes what it made and throws.
   */
  public static NetworkTestbed create(String prefix, int nodeCount) {
    return create(prefix, nodeCount, NetworkTestbed::randomSubnet);
  }

  /**
   * As {@link #create(String, int)}, trying the /24s {@code subnets} proposes ("10.a.b."). A subnet the host
   * routes already is skipped; one that another bridge took while this one was built (a concurrent testbed:
   * the first route wins) is given up and the next one tried. Without this, a bridge a killed run left behind
   * with the same subnet swallowed every packet for the nodes: CI saw an agent up and idle whose
   * {@code /health} the test could not reach for 90 s.
   */
  static NetworkTestbed create(String prefix, int nodeCount, Supplier<String> subnets) {
    if (prefix.length() > 6 || !prefix.matches("[a-z][a-z0-9]*")) {
      throw new IllegalArgumentException("prefix must be 1-6 lowercase letters/digits: " + prefix);
    }
    List<String> refused = new ArrayList<>();
    for (int attempt = 0; attempt < SUBNET_ATTEMPTS; attempt++) {
      String subnet = subnets.get();
      List<String> taken = HostRoutes.overlapping(subnet);
      if (!taken.isEmpty()) {
        refused.add(subnet + "0/24 is routed already: " + taken);
        continue;
      }
      NetworkTestbed testbed = new NetworkTestbed(prefix, nodeCount, subnet);
      try {
        testbed.build();
      } catch (RuntimeException e) {
        testbed.close();
        throw e;
      }
      Optional<String> misrouted = testbed.misroutedNode();
      if (misrouted.isEmpty()) {
        return testbed;
      }
      refused.add(misrouted.get());
      testbed.close();
    }
    throw new IllegalStateException("no free /24 for a testbed " + prefix + " in " + SUBNET_ATTEMPTS + " tries: "
        + refused);
  }

  // 10.<200-244>.<0-255>.0/24: random, so that parallel runs rarely try the same subnet; create() checks.
  // 10.245-10.254 are the pod subnets of ./ums cluster (10.(245 + UMS_CLUSTER_ID).<node>.0/24), which the host
  // routes to the nodes: create() sees those routes only when the cluster is up first, not one brought up after.
  static String randomSubnet() {
    return "10." + (200 + RANDOM.nextInt(45)) + "." + RANDOM.nextInt(256) + ".";
  }

  /** A node the host would not reach through this testbed's bridge, said in words; empty when all are. */
  private Optional<String> misroutedNode() {
    for (Node node : nodes) {
      Optional<String> device = HostRoutes.deviceFor(node.address());
      if (!device.equals(Optional.of(bridge))) {
        return Optional.of(subnetPrefix + "0/24: the host routes " + node.address() + " through "
            + device.orElse("nothing") + ", not " + bridge);
      }
    }
    return Optional.empty();
  }

  // namespaces first: a link whose testbed has no namespace is one a killed run left (StaleTestbeds)
  private void build() {
    for (Node node : nodes) {
      HostCommand.check("ip", "netns", "add", node.netns());
    }
    HostCommand.check("ip", "link", "add", bridge, "type", "bridge");
    HostCommand.check("ip", "addr", "add", hostAddress() + "/24", "dev", bridge);
    HostCommand.check("ip", "link", "set", bridge, "up");
    for (Node node : nodes) {
      HostCommand.check("ip", "link", "add", node.vethHost(), "type", "veth", "peer", "name", node.vethNode());
      HostCommand.check("ip", "link", "set", node.vethNode(), "netns", node.netns());
      HostCommand.check("ip", "link", "set", node.vethHost(), "master", bridge);
      HostCommand.check("ip", "link", "set", node.vethHost(), "up");
      inNode(node, "ip", "link", "set", "lo", "up");
      inNode(node, "ip", "addr", "add", node.address() + "/24", "dev", node.vethNode());
      inNode(node, "ip", "link", "set", node.vethNode(), "up");
      inNode(node, "ip", "route", "add", "default", "via", hostAddress());
    }
  }

  private static void inNode(Node node, String... command) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", node.netns()));
    full.addAll(List.of(command));
    HostCommand.check(full.toArray(String[]::new));
  }

  public List<Node> nodes() {
    return List.copyOf(nodes);
  }

  public Node node(int index) {
    return nodes.get(index);
  }

  /** The root namespace's address on the testbed bridge. */
  public String hostAddress() {
    return subnetPrefix + "254";
  }

  public String id() {
    return id;
  }

  /**
   * Rate-limits every node's link in both directions with a token bucket (tc tbf; netem is not available
   * here), e.g. "1gbit". {@code null} or "unlimited" removes the limit.
   */
  public void limitRate(String rate) {
    for (Node node : nodes) {
      HostCommand.run("tc", "qdisc", "del", "dev", node.vethHost(), "root");
      HostCommand.run("ip", "netns", "exec", node.netns(), "tc", "qdisc", "del", "dev", node.vethNode(), "root");
    }
    this.rateLimit = null;
    if (rate == null || rate.equalsIgnoreCase("unlimited")) {
      return;
    }
    String burst = burstFor(rate);
    for (Node node : nodes) {
      HostCommand.check("tc", "qdisc", "add", "dev", node.vethHost(), "root", "tbf", "rate", rate, "burst", burst,
          "latency", "50ms");
      inNode(node, "tc", "qdisc", "add", "dev", node.vethNode(), "root", "tbf", "rate", rate, "burst", burst,
          "latency", "50ms");
    }
    this.rateLimit = rate;
  }

  public String rateLimit() {
    return rateLimit == null ? "unlimited" : rateLimit;
  }

  /** Cuts or restores one node's link (the veth end in the root namespace), for fault tests. */
  public void setLinkUp(Node node, boolean up) {
    HostCommand.check("ip", "link", "set", node.vethHost(), up ? "up" : "down");
  }

  // tbf needs a bucket of at least rate/HZ bytes; 1 ms worth of the rate, with a floor, keeps it smooth.
  private static String burstFor(String rate) {
    String lower = rate.toLowerCase(Locale.ROOT);
    double bitsPerSecond;
    if (lower.endsWith("gbit")) {
      bitsPerSecond = Double.parseDouble(lower.replace("gbit", "")) * 1e9;
    } else if (lower.endsWith("mbit")) {
      bitsPerSecond = Double.parseDouble(lower.replace("mbit", "")) * 1e6;
    } else if (lower.endsWith("kbit")) {
      bitsPerSecond = Double.parseDouble(lower.replace("kbit", "")) * 1e3;
    } else {
      throw new IllegalArgumentException("rate must end in gbit, mbit or kbit: " + rate);
    }
    long bytes = Math.max(64 * 1024, (long) (bitsPerSecond / 8 / 250));
    return bytes + "b";
  }

  @Override
  public void close() {
    for (Node node : nodes) {
      killProcessesIn(node);
    }
    List<String> left = new ArrayList<>();
    for (Node node : nodes) {
      if (!deleteNamespace(node.netns())) {
        left.add(node.netns());
      }
      HostCommand.run("ip", "link", "del", node.vethHost());
    }
    HostCommand.run("ip", "link", "del", bridge);
    if (!left.isEmpty()) {
      throw new IllegalStateException("network namespaces " + left + " could not be deleted");
    }
  }

  /**
   * {@code ip netns del}, retried until the name is gone: a process killed a moment ago that had entered the
   * namespace through {@code ip netns exec} (which makes a mount namespace of its own, holding a copy of the
   * namespace's mount) keeps the name busy until it has fully exited; CI left such names behind.
   */
  private static boolean deleteNamespace(String netns) {
    for (int attempt = 0; attempt < 50; attempt++) {
      HostCommand.run("ip", "netns", "del", netns);
      if (!exists(netns)) {
        return true;
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
  }

  private static boolean exists(String netns) {
    for (String line : HostCommand.run("ip", "netns", "list").output().split("\n")) {
      if (line.split(" ")[0].trim().equals(netns)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Workloads restored into a node outlive the agents that started them (by design), and a deleted
   * namespace stays alive while a process holds it: whatever still runs in a node when the testbed closes
   * is killed, so no test or bench leaves a process behind.
   */
  private static void killProcessesIn(Node node) {
    HostCommand.Result pids = HostCommand.run("ip", "netns", "pids", node.netns());
    if (!pids.ok()) {
      return;
    }
    for (String pid : pids.output().split("\\s+")) {
      if (pid.matches("\\d+")) {
        HostCommand.run("kill", "-KILL", pid);
      }
    }
  }

  /**
   * Removes the namespaces and links a killed run with {@code prefix} left behind, and nothing of a testbed a
   * concurrent run (another checkout's build on this machine) is using: see {@link StaleTestbeds}.
   */
  public static void removeStale(String prefix) {
    StaleTestbeds.remove(prefix);
  }

  /**
   * The namespaces named with {@code prefix} made longer ago than any run keeps a testbed: a killed run's, whose
   * processes a sweep may kill (a prefix alone also names the testbeds of concurrent runs).
   */
  public static java.util.List<String> staleNamespaces(String prefix) {
    return StaleTestbeds.oldNamespaces(prefix);
  }
}
