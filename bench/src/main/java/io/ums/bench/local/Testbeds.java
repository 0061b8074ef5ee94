package io.ums.bench.local;

import io.ums.testkit.NetworkTestbed;

/** A two-node testbed whose removal (processes in its namespaces first) is registered with a {@link Cleanup}. */
public final class Testbeds {
  private Testbeds() {}

  /**
   * Sweeps what a killed earlier run with the same prefix left, then creates two nodes. On cleanup every
   * process still inside a node's namespace is killed first: a live process would keep the namespace
   * alive after {@code ip netns del}.
   */
  public static NetworkTestbed twoNodes(String prefix, Cleanup cleanup) {
    sweepStale(prefix);
    NetworkTestbed testbed = NetworkTestbed.create(prefix, 2);
    cleanup.push("testbed " + testbed.id(), () -> {
      testbed.nodes().forEach(node -> NodeSweeper.killAll(node.netns()));
      testbed.close();
    });
    return testbed;
  }

  /**
   * Kills the processes in, and removes, the namespaces and links named with {@code prefix} that a killed earlier
   * run left (older than any run keeps them): a concurrent run's testbeds, named with the same prefix, are spared.
   */
  public static void sweepStale(String prefix) {
    for (String name : NetworkTestbed.staleNamespaces(prefix)) {
      NodeSweeper.killAll(name);
    }
    NetworkTestbed.removeStale(prefix);
  }
}
