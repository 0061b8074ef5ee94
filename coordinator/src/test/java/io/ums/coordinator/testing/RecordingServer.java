package io.ums.coordinator.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A plain listening socket that records every request head it receives (a stranger's server a user might
 * name as destination) and answers each with 418. A daemon thread per connection; test set-up only.
 */
public final class RecordingServer implements AutoCloseable {
  private final ServerSocket socket;
  private final List<String> requests = new CopyOnWriteArrayList<>();

  public RecordingServer() throws IOException {
    socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptAll, "recording-server");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public String url() {
    return "http://127.0.0.1:" + socket.getLocalPort();
  }

  /** Every request head received so far (request line and headers), in order. */
  public List<String> requests() {
    return List.copyOf(requests);
  }

  private void acceptAll() {
    while (!socket.isClosed()) {
      try {
        Socket connection = socket.accept();
        Thread reader = new Thread(() -> answer(connection), "recording-connection");
        reader.setDaemon(true);
        reader.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void answer(Socket connection) {
    try (connection) {
      connection.setSoTimeout(10_000);
      InputStream in = connection.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b == -1) {
          break;
        }
        head.write(b);
      }
      requests.add(head.toString(StandardCharsets.ISO_8859_1));
      connection.getOutputStream().write(("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
    } catch (IOException gone) {
      // the caller went away: what it sent is recorded
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
