package io.ums.protocol;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.Optional;

/** A real server and client on loopback, authenticated with one session. */
public record TestPeers(UmsServer server, int port, UmsClient client) {
  public static final String SESSION = "session-1";
  public static final Buffer TOKEN = Buffer.buffer("one-time-token-0123456789");

  public static Future<TestPeers> start(Vertx vertx, UmsServerOptions serverOptions, UmsClientOptions clientOptions,
      Handler<UmsConnection> serverConnections) {
    UmsServer server = UmsServer.create(vertx, serverOptions)
        .authenticator(id -> SESSION.equals(id) ? Optional.of(TOKEN) : Optional.empty())
        .connectHandler(serverConnections);
    return server.listen(0, "127.0.0.1")
        .map(port -> new TestPeers(server, port, UmsClient.create(vertx, clientOptions)));
  }

  public Future<UmsConnection> connect() {
    return client.connect("127.0.0.1", port, SESSION, TOKEN);
  }
}
