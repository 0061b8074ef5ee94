package io.ums.agent.criu;

import java.util.ArrayList;
import java.util.List;

/**
 * The TCP connections a source tree holds, and their reset once the workload runs elsewhere with them
 * restored closed. A dumped socket is in TCP repair mode, and the kernel closes a repair-mode socket
 * silently when its owner dies: a client whose request the kernel had already acknowledged (the program
 * frozen before it answered) sends nothing more and would wait for its read timeout, or forever. Destroying
 * each socket ({@code ss -K}, SOCK_DESTROY) while the frozen source still holds it, after CRIU's lock rules
 * are gone, sends the peer a reset: it learns at once and reconnects. Blocking (reads /proc, runs ss).
 */
public final class ClientConnections {
  /** One connection as {@code ss} filters it. */
  public record Connection(String local, int localPort, String remote, int remotePort) {
    String endpoint(String address, int port) {
      return (address.contains(":") ? "[" + address + "]" : address) + ":" + port;
    }
  }

  private ClientConnections() {}

  /** The connected TCP sockets open in {@code pids} (all in one network namespace). */
  public static List<Connection> of(List<Long> pids) {
    List<Connection> connections = new ArrayList<>();
    for (TcpConnections.SocketRow row : TcpConnections.socketRows(pids)) {
      if (row.connected()) {
        String[] local = row.fields()[1].split(":");
        String[] remote = row.fields()[2].split(":");
        connections.add(new Connection(address(row.table(), local[0]), Integer.parseInt(local[1], 16),
            address(row.table(), remote[0]), Integer.parseInt(remote[1], 16)));
      }
    }
    return connections;
  }

  /** Java prints an IPv4-mapped address of tcp6 as plain IPv4; ss matches a tcp6 socket only as mapped. */
  private static String address(String table, String hex) {
    String text = TcpConnections.address(hex);
    return table.equals("tcp6") && !text.contains(":") ? "::ffff:" + text : text;
  }

  /** Destroys each connection that still exists (its peer gets a reset); returns how many ss matched. */
  public static int reset(List<String> wrapper, List<Connection> connections) {
    int destroyed = 0;
    for (Connection connection : connections) {
      List<String> command = new ArrayList<>(wrapper);
      command.addAll(List.of("ss", "-K", "-t", "-n", "-H", "state", "connected",
          "src", connection.endpoint(connection.local(), connection.localPort()),
          "dst", connection.endpoint(connection.remote(), connection.remotePort())));
      if (!CommandOutput.of(command).isBlank()) {
        destroyed++;
      }
    }
    return destroyed;
  }
}
