package io.ums.protocol.impl;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;

/**
 * A passive observer on the path: a TCP relay on loopback that forwards every byte both ways unchanged
 * and keeps a copy of what the client sent, as someone tapping the link would see it.
 */
final class RecordingRelay {
  private final NetServer server;
  private final Buffer clientToServer = Buffer.buffer();

  private RecordingRelay(NetServer server) {
    this.server = server;
  }

  static Future<RecordingRelay> start(Vertx vertx, int targetPort) {
    NetServer server = vertx.createNetServer();
    RecordingRelay relay = new RecordingRelay(server);
    // one client, held by the server's handler: Vert.x 5 closes an unreachable NetClient's sockets after a GC
    NetClient targets = vertx.createNetClient();
    server.connectHandler(client -> {
      client.pause();
      targets.connect(targetPort, "127.0.0.1").onComplete(connected -> {
        if (connected.failed()) {
          client.close();
          return;
        }
        NetSocket target = connected.result();
        client.handler(bytes -> {
          relay.clientToServer.appendBuffer(bytes.copy());
          target.write(bytes);
        });
        target.handler(client::write);
        client.closeHandler(v -> target.close());
        target.closeHandler(v -> client.close());
        client.resume();
      });
    });
    return server.listen(0, "127.0.0.1").map(relay);
  }

  int port() {
    return server.actualPort();
  }

  /** Everything the client sent so far, as it crossed the wire. */
  Buffer recorded() {
    return clientToServer;
  }

  Future<Void> close() {
    return server.close();
  }
}
