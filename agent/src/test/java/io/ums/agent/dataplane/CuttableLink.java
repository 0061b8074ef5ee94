package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/**
 * A TCP forwarder standing for the network between two agents. {@link #cut()} behaves like a pulled cable:
 * from then on every byte either way is dropped and nothing is closed, so each end only notices through
 * its own idle timeout.
 */
final class CuttableLink {
  private final NetServer server;
  private volatile boolean cut;

  private CuttableLink(NetServer server) {
    this.server = server;
  }

  static Future<CuttableLink> start(Vertx vertx, String host, int targetPort) {
    NetClient client = vertx.createNetClient();
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(0).setTcpNoDelay(true));
    CuttableLink link = new CuttableLink(server);
    server.connectHandler(inbound -> {
      inbound.pause();
      client.connect(targetPort, host).onSuccess(outbound -> {
        link.forward(inbound, outbound);
        link.forward(outbound, inbound);
        inbound.resume();
      }).onFailure(e -> inbound.close());
    });
    return server.listen().map(ignored -> link);
  }

  private void forward(NetSocket from, NetSocket to) {
    from.handler(buffer -> {
      if (cut) {
        return;
      }
      to.write(buffer);
      if (to.writeQueueFull()) {
        from.pause();
        to.drainHandler(ignored -> from.resume());
      }
    });
    from.closeHandler(ignored -> {
      if (!cut) {
        to.close();
      }
    });
  }

  int port() {
    return server.actualPort();
  }

  void cut() {
    cut = true;
  }

  Future<Void> close() {
    return server.close();
  }
}
