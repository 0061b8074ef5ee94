package io.ums.protocol.impl;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;

/**
 * An active attacker on the path: terminates the client's TLS with a certificate of its own (a fresh
 * self-signed one, as the real server's is), opens its own TLS connection to the real server and
 * relays the decrypted bytes both ways. Without the channel binding it would read everything.
 */
final class TlsInterceptor {
  private final NetServer server;

  private TlsInterceptor(NetServer server) {
    this.server = server;
  }

  static Future<TlsInterceptor> start(Vertx vertx, int targetPort) {
    DataPlaneTls ownCertificate = DataPlaneTls.ephemeral();
    NetServer server = vertx.createNetServer();
    // one client, held by the server's handler: Vert.x 5 closes an unreachable NetClient's sockets after a GC
    NetClient targets = vertx.createNetClient();
    server.connectHandler(client -> DataPlaneTls.detect(client, () -> Future.succeededFuture(ownCertificate), binding -> {
      client.pause();
      targets.connect(targetPort, "127.0.0.1")
          .compose(target -> DataPlaneTls.secure(SocketContext.of(target), target, "127.0.0.1", targetPort)
              .map(serverBinding -> target))
          .onComplete(connected -> {
            if (connected.failed()) {
              client.close();
              return;
            }
            NetSocket target = connected.result();
            client.handler(target::write);
            target.handler(client::write);
            client.closeHandler(v -> target.close());
            target.closeHandler(v -> client.close());
            client.resume();
          });
    }, client::close));
    return server.listen(0, "127.0.0.1").map(new TlsInterceptor(server));
  }

  int port() {
    return server.actualPort();
  }

  Future<Void> close() {
    return server.close();
  }
}
