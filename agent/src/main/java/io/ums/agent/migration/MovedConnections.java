package io.ums.agent.migration;

import io.ums.agent.criu.ClientConnections;
import java.util.List;

/**
 * The source tree's TCP connections, taken before the dump, and what the destination did with them: live
 * ("established", when it has every local address) or closed. Closed ones are reset from the source once
 * the workload runs on the destination (see {@link ClientConnections}), so their peers never hang.
 */
final class MovedConnections {
  private final List<ClientConnections.Connection> connections;
  private String restored = "closed";

  MovedConnections(List<ClientConnections.Connection> connections) {
    this.connections = List.copyOf(connections);
  }

  static MovedConnections none() {
    return new MovedConnections(List.of());
  }

  /** The destination's result says how it restored them (an older destination does not: closed). */
  void restoredAs(MigrationResult result) {
    restored = result.tcpConnections().orElse("closed");
  }

  /**
   * Resets the connections the destination restored closed, after {@code unlock} removed CRIU's lock rules
   * (which would drop the resets); returns how many were reset. Blocking.
   */
  int resetIfClosed(List<String> wrapper, Runnable unlock) {
    if (connections.isEmpty() || restored.equals("established")) {
      return 0;
    }
    unlock.run();
    return ClientConnections.reset(wrapper, connections);
  }

  int size() {
    return connections.size();
  }
}
