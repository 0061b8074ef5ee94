package io.ums.bench.protocol;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/** Baseline: a plain blocking Java socket copy, one writer thread, one reader thread, 64 KiB buffers. */
final class BlockingSocketCopy {
  private BlockingSocketCopy() {}

  static BenchResult run(long total) throws Exception {
    byte[] chunk = new byte[GeneratedStream.CHUNK];
    new Random(3).nextBytes(chunk);
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Long> received = CompletableFuture.supplyAsync(() -> readAll(server, total));
      long start = System.nanoTime();
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
        socket.setTcpNoDelay(true);
        OutputStream out = socket.getOutputStream();
        for (long sent = 0; sent < total; sent += chunk.length) {
          out.write(chunk, 0, (int) Math.min(chunk.length, total - sent));
        }
        out.flush();
        long got = received.get();
        if (got != total) {
          throw new IllegalStateException("blocking copy received " + got + " of " + total);
        }
      }
      return new BenchResult("blocking-java-socket", total, (System.nanoTime() - start) / 1e9, 0);
    }
  }

  private static long readAll(ServerSocket server, long total) {
    try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
      byte[] buffer = new byte[GeneratedStream.CHUNK];
      long got = 0;
      int n;
      while (got < total && (n = in.read(buffer)) > 0) {
        got += n;
      }
      return got;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
