package io.ums.agent.criu;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The TCP connections a process tree holds, as far as a migration cares: their local addresses.
 *
 * <p>{@code criu restore --tcp-established} re-creates each connection bound to its old local address.
 * A connection can only go on after a move when that address exists on the destination too: a loopback
 * connection between two members of the tree does; a client's connection to the source node's address
 * does not (nodes do not share addresses, and the client keeps talking to the source node). So the
 * destination restores the connections established only when every local address is its own, else closed
 * ({@code --tcp-close}), and the workload sees its clients disconnect and reconnect. Blocking (reads /proc).
 */
public final class TcpConnections {
  /** /proc/net/tcp states that are neither LISTEN (0A) nor CLOSE (07): connections CRIU dumps. */
  private static final String LISTEN = "0A";
  private static final Set<String> NOT_CONNECTIONS = Set.of(LISTEN, "07");

  private TcpConnections() {}

  /** The local addresses of the connected TCP sockets open in {@code pids} (all in one network namespace). */
  public static Set<String> localAddresses(List<Long> pids) {
    return addresses(pids, false);
  }

  /**
   * The addresses the listening TCP sockets open in {@code pids} are bound to, wildcards left out: a server
   * bound to a node's own address cannot be restored on a node without it.
   */
  public static Set<String> listeningAddresses(List<Long> pids) {
    Set<String> addresses = new TreeSet<>(addresses(pids, true));
    addresses.removeIf(text -> text.equals("0.0.0.0") || text.equals("0:0:0:0:0:0:0:0"));
    return addresses;
  }

  private static Set<String> addresses(List<Long> pids, boolean listening) {
    if (pids.isEmpty()) {
      return Set.of();
    }
    Set<String> inodes = socketInodes(pids);
    Set<String> addresses = new TreeSet<>();
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
        if (fields.length <= 9 || !inodes.contains(fields[9])) {
          continue;
        }
        if (listening ? fields[3].equals(LISTEN) : !NOT_CONNECTIONS.contains(fields[3])) {
          addresses.add(address(fields[1].substring(0, fields[1].indexOf(':'))));
        }
      }
    }
    return addresses;
  }

  /** True when every address is loopback or assigned to an interface of this network namespace. */
  public static boolean allLocal(Collection<String> addresses) {
    for (String text : addresses) {
      try {
        InetAddress address = InetAddress.getByName(text);
        if (!address.isLoopbackAddress() && NetworkInterface.getByInetAddress(address) == null) {
          return false;
        }
      } catch (UnknownHostException | SocketException e) {
        return false;
      }
    }
    return true;
  }

  static Set<String> socketInodes(List<Long> pids) {
    Set<String> inodes = new HashSet<>();
    for (long pid : pids) {
      try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
        for (Path fd : fds) {
          try {
            String target = Files.readSymbolicLink(fd).toString();
            if (target.startsWith("socket:[")) {
              inodes.add(target.substring("socket:[".length(), target.length() - 1));
            }
          } catch (IOException e) {
            // the descriptor closed while we looked
          }
        }
      } catch (IOException e) {
        // the process went away while we looked
      }
    }
    return inodes;
  }

  /** An address of /proc/net/tcp{,6}: 32-bit words in hex, each in host (little-endian) byte order. */
  static String address(String hex) {
    byte[] bytes = new byte[hex.length() / 2];
    for (int word = 0; word < bytes.length / 4; word++) {
      for (int i = 0; i < 4; i++) {
        int at = (word * 4 + 3 - i) * 2;
        bytes[word * 4 + i] = (byte) Integer.parseInt(hex.substring(at, at + 2), 16);
      }
    }
    try {
      return InetAddress.getByAddress(bytes).getHostAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an address: " + hex, e);
    }
  }
}
