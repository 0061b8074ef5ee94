// A JVM test workload (RealProgramsMigrationTest), run as a single source file: N worker threads counting,
// an HTTP server on a pool of 4 threads answering "<ticks> <live threads>".
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

public class ThreadsServer {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    int workers = Integer.parseInt(args[1]);
    AtomicLong ticks = new AtomicLong();
    for (int i = 0; i < workers; i++) {
      Thread worker = new Thread(() -> {
        while (true) {
          ticks.incrementAndGet();
          try {
            Thread.sleep(10);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "worker-" + i);
      worker.setDaemon(true);
      worker.start();
    }
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 50);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.createContext("/", exchange -> {
      byte[] body = (ticks.get() + " " + Thread.activeCount() + "\n").getBytes(StandardCharsets.US_ASCII);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }
}
