package io.ums.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A blocking client of {@link MemService}: asks for the counter and the memory checksum. */
public final class MemServiceClient {
  public record Answer(long counter, String checksum) {
    static Answer parse(String line) {
      if (line == null) {
        throw new IllegalStateException("memservice closed the connection");
      }
      String[] parts = line.trim().split(" ");
      if (parts.length != 2) {
        throw new IllegalStateException("unexpected memservice answer: " + line);
      }
      return new Answer(Long.parseLong(parts[0]), parts[1]);
    }
  }

  private MemServiceClient() {}

  /** Counter and the checksum the service computed at start (cheap). */
  public static Answer query(String host, int port, int timeoutMillis) throws IOException {
    return ask(host, port, timeoutMillis, "c\n");
  }

  /** Counter and a checksum recomputed now over all of the service's memory. */
  public static Answer verify(String host, int port, int timeoutMillis) throws IOException {
    return ask(host, port, timeoutMillis, "v\n");
  }

  private static Answer ask(String host, int port, int timeoutMillis, String request) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), timeoutMillis);
      socket.setSoTimeout(timeoutMillis);
      socket.setTcpNoDelay(true);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
      return Answer.parse(in.readLine());
    }
  }
}
