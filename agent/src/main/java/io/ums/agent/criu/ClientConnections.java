package io.ums.agent.criu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

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

  private static final Set<String> NOT_CONNECTIONS = Set.of("0A", "07");

  private ClientConnections() {}

  /** The connected TCP sockets open in {@code pids} (all in one network namespace). */
  public static List<Connection> of(List<Long> pids) {
    List<Connection> connections = new ArrayList<>();
    if (pids.isEmpty()) {
      return connections;
    }
    Set<String> inodes = TcpConnections.socketInodes(pids);
    Path net = Path.of("/proc", Long.toString(pids.get(0)), "net");
    for (String table : List.of("tcp", "tcp6")) {
      List<String> lines;
      try {
        lines = Files.readAllLines(net.resolve(table));
      } catch (IOException e) {
        continue;
      }
      for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
        String[] fields = line.trim().split("\\s+");
        if (fields.length > 9 && inodes.contains(fields[9]) && !NOT_CONNECTIONS.contains(fields[3])) {
          String[] local = fields[1].split(":");
          String[] remote = fields[2].split(":");
          connections.add(new Connection(address(table, local[0]), Integer.parseInt(local[1], 16),
              address(table, remote[0]), Integer.parseInt(remote[1], 16)));
        }
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
      if (!run(command).isBlank()) {
        destroyed++;
      }
    }
    return destroyed;
  }

  private static String run(List<String> command) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      process.waitFor(10, TimeUnit.SECONDS);
      return output;
    } catch (IOException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }
}
