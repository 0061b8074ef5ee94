package io.ums.bench.protocol;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.util.concurrent.atomic.AtomicLong;

/** Baseline: the generated stream piped into a plain Vert.x NetSocket; the server side counts bytes. */
final class RawVertxPipe {
  private RawVertxPipe() {}

  static Future<BenchResult> run(Vertx vertx, long total) {
    LoopbackPair loops = LoopbackPair.create(vertx);
    Promise<Void> received = Promise.promise();
    AtomicLong count = new AtomicLong();
    NetServer server = vertx.createNetServer().connectHandler(socket -> socket.handler(bytes -> {
      if (count.addAndGet(bytes.length()) == total) {
        received.complete();
      }
    }));
    // held and closed at the end: Vert.x 5 closes an unreachable NetClient's sockets once GC finds it
    NetClient client = vertx.createNetClient();
    return LoopbackPair.on(loops.server(), () -> server.listen(0, "127.0.0.1"))
        .compose(s -> LoopbackPair.on(loops.client(), () -> client.connect(s.actualPort(), "127.0.0.1")))
        .compose(socket -> {
          long start = System.nanoTime();
          loops.client().runOnContext(v -> pipe(vertx, socket, total));
          return received.future()
              .map(v -> new BenchResult("raw-vertx-netsocket", total, (System.nanoTime() - start) / 1e9, 0))
              .eventually(() -> socket.close().eventually(client::close).eventually(server::close));
        });
  }

  private static void pipe(Vertx vertx, NetSocket socket, long total) {
    GeneratedStream source = new GeneratedStream(vertx.getOrCreateContext(), total);
    // the pipe only needs to end the source; completion is the server counting every byte
    source.pipe().endOnSuccess(false).to(socket);
    source.start();
  }
}
