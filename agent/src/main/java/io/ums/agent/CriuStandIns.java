package io.ums.agent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.SecureRandom;
import java.time.Duration;

/**
 * The two CRIU processes of a migration's page stream, played by blocking sockets for {@link DataPathWarmup}:
 * the dump writes its pages and, as {@code criu dump} does, closes only after the page server answered; the
 * page server reads them, answers, and waits for the dump to hang up. Blocking: run them on workers.
 */
final class CriuStandIns {
  private static final int CHUNK = 64 * 1024;

  private CriuStandIns() {}

  /** The page server's listening socket; every later read or accept on it gives up after {@code timeout}. */
  static ServerSocket listen(String host, Duration timeout) throws IOException {
    ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName(host));
    server.setSoTimeout((int) timeout.toMillis());
    return server;
  }

  /** Connects to the dump's page socket, writes {@code bytes} bytes, waits for the one-byte answer, closes. */
  static Void dump(String host, int port, long bytes, Duration timeout) throws IOException {
    byte[] chunk = new byte[CHUNK];
    new SecureRandom().nextBytes(chunk);
    try (Socket socket = new Socket(host, port)) {
      socket.setSoTimeout((int) timeout.toMillis());
      OutputStream out = socket.getOutputStream();
      for (long left = bytes; left > 0; left -= chunk.length) {
        out.write(chunk, 0, (int) Math.min(chunk.length, left));
      }
      out.flush();
      if (socket.getInputStream().read() < 0) {
        throw new IOException("the page server hung up without answering");
      }
    }
    return null;
  }

  /** Accepts one connection, reads exactly {@code bytes} bytes, answers one byte, reads until the end. */
  static Void pageServer(ServerSocket server, long bytes) throws IOException {
    try (server; Socket socket = server.accept()) {
      socket.setSoTimeout(server.getSoTimeout());
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[CHUNK];
      long count = 0;
      while (count < bytes) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - count));
        if (n < 0) {
          throw new IOException("the page stream ended after " + count + " of " + bytes + " bytes");
        }
        count += n;
      }
      socket.getOutputStream().write(1);
      while (in.read(buffer) >= 0) {
        // the dump closes once it has the answer; anything more would be a bug of the relay, not ours
      }
    }
    return null;
  }
}
