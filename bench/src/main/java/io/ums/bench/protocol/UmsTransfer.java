package io.ums.bench.protocol;

import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The generated stream piped through UMS channels of one connection; the receiving side only
 * consumes. A run ends when every channel's end() completed, i.e. the receiver verified length
 * and CRC-32C and consumed every byte.
 */
final class UmsTransfer {
  private static final String SESSION = "bench";
  private static final Buffer TOKEN = Buffer.buffer("bench-one-time-token");

  private UmsTransfer() {}

  static Future<BenchResult> run(Vertx vertx, String name, long total, int channels, boolean compress) {
    return run(vertx, name, total, channels, compress, false);
  }

  /** With {@code encrypt}, over TLS 1.3 (the server accepts both, as the agents' data servers do). */
  static Future<BenchResult> run(Vertx vertx, String name, long total, int channels, boolean compress,
      boolean encrypt) {
    LoopbackPair loops = LoopbackPair.create(vertx);
    UmsServer server = UmsServer.create(vertx, new UmsServerOptions().setTls(encrypt))
        .authenticator(id -> SESSION.equals(id) ? Optional.of(TOKEN) : Optional.empty())
        .connectHandler(connection -> connection.channelHandler(channel -> channel.handler(bytes -> { })
            .endHandler(v -> { })));
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    return LoopbackPair.on(loops.server(), () -> server.listen(0, "127.0.0.1"))
        .compose(port -> LoopbackPair.on(loops.client(), () -> client.connect("127.0.0.1", port, SESSION, TOKEN, encrypt)))
        .compose(connection -> LoopbackPair.on(loops.client(), () -> {
          long start = System.nanoTime();
          return sendAll(vertx, connection, total, channels, compress)
              .map(v -> new BenchResult(name, total, (System.nanoTime() - start) / 1e9, 0))
              .eventually(connection::close);
        }))
        .eventually(() -> client.close().eventually(server::close));
  }

  private static Future<Void> sendAll(Vertx vertx, UmsConnection connection, long total, int channels,
      boolean compress) {
    List<Future<Void>> done = new ArrayList<>();
    for (int i = 0; i < channels; i++) {
      long share = total / channels + (i < total % channels ? 1 : 0);
      done.add(connection.openChannel("bench", new JsonObject().put("index", i), compress).compose(channel -> {
        GeneratedStream source = new GeneratedStream(vertx.getOrCreateContext(), share);
        Future<Void> piped = source.pipeTo(channel);
        source.start();
        return piped;
      }));
    }
    return Future.all(done).mapEmpty();
  }
}
