package io.ums.agent.migration;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/**
 * A data route for fault tests ({@link FaultInjectingAgentMain}): a local TCP proxy in front of the
 * destination's data port that flips one bit of byte N of the source's outgoing stream, deep inside a DATA
 * frame of the page stream, as a damaged link would. The receiver must catch it (CRC-32C) and the source must
 * roll back.
 */
final class CorruptingProxy {
  private final NetServer server;

  private CorruptingProxy(NetServer server) {
    this.server = server;
  }

  static Future<CorruptingProxy> start(Vertx vertx, String targetHost, int targetPort, long offset) {
    NetClient client = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true));
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(0));
    server.connectHandler(inbound -> {
      inbound.pause();
      client.connect(targetPort, targetHost).onComplete(result -> {
        if (result.failed()) {
          inbound.close();
          return;
        }
        NetSocket outbound = result.result();
        long[] seen = {0};
        inbound.handler(buffer -> {
          long start = seen[0];
          seen[0] += buffer.length();
          Buffer out = buffer;
          if (offset >= start && offset < seen[0]) {
            out = buffer.copy();
            int index = (int) (offset - start);
            out.setByte(index, (byte) (out.getByte(index) ^ 0x01));
          }
          outbound.write(out);
          if (outbound.writeQueueFull()) {
            inbound.pause();
            outbound.drainHandler(ignored -> inbound.resume());
          }
        });
        inbound.endHandler(ignored -> outbound.end());
        inbound.closeHandler(ignored -> outbound.close());
        outbound.pipeTo(inbound);
        inbound.resume();
      });
    });
    return server.listen().map(ignored -> new CorruptingProxy(server));
  }

  int port() {
    return server.actualPort();
  }

  Future<Void> close() {
    return server.close();
  }
}
