package io.ums.agent.criu;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@code criu page-server} writing the pages of one dump into a session's images directory. It serves
 * exactly one dump connection and exits when the dump closes it (exit 0 once every page is on disk), and dies
 * with the agent ({@link Tether}).
 */
public final class CriuPageServer {
  public static final String LOG = "page-server.log";

  private CriuPageServer() {}

  /** Starts the page server on {@code host:port}. Blocking. */
  public static Process start(CriuRunner runner, Path imagesDir, Path workDir, String host, int port)
      throws IOException {
    List<String> args = List.of(
        "--images-dir", imagesDir.toString(),
        "--work-dir", workDir.toString(),
        "--log-file", LOG, "-v2",
        "--address", host,
        "--port", Integer.toString(port));
    // tethered: a page server whose agent died must not wait for its dump forever
    return runner.startTethered("page-server", args, workDir.resolve("page-server.out"), List.of());
  }

  /** A port free right now on {@code host}, for a server we cannot ask for its ephemeral port. Blocking. */
  public static int freePort(String host) throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
      return socket.getLocalPort();
    }
  }

  public static String errors(Path workDir) {
    return CriuLog.errors(workDir.resolve(LOG));
  }
}
