package io.ums.bench.wire;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * The physical floor for the transfer part: N bytes over one plain TCP connection, no protocol, no disk.
 * The sink reads to end of stream and answers one byte, so the sender's clock covers delivery, not just
 * handing bytes to its kernel. Runs as its own JVM inside a node's namespace (see WireMethod).
 */
public final class WireTransfer {
  private static final int CHUNK = 1 << 20;

  private WireTransfer() {}

  /** Accepts one connection on {@code listen}, reads it to the end, answers one byte; returns bytes read. */
  public static long sink(InetSocketAddress listen, Runnable onListening) throws IOException {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(listen);
      onListening.run();
      try (SocketChannel connection = server.accept()) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
        long total = 0;
        for (int n; (n = connection.read(buffer)) >= 0; buffer.clear()) {
          total += n;
        }
        connection.write(ByteBuffer.wrap(new byte[] {1}));
        return total;
      }
    }
  }

  /** Sends {@code bytes} to the sink and waits for its answer; returns the elapsed milliseconds. */
  public static double send(InetSocketAddress to, long bytes) throws IOException {
    ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK);
    long start = System.nanoTime();
    try (SocketChannel connection = SocketChannel.open(to)) {
      for (long left = bytes; left > 0; ) {
        chunk.clear().limit((int) Math.min(CHUNK, left));
        left -= connection.write(chunk);
      }
      connection.shutdownOutput();
      if (connection.read(ByteBuffer.allocate(1)) != 1) {
        throw new IOException("the sink closed without confirming");
      }
    }
    return (System.nanoTime() - start) / 1e6;
  }
}
