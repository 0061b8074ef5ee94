package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/**
 * A local port for one CRIU connection ({@code criu dump --page-server}, {@code criu lazy-pages}): accepts
 * the first connection, paused until its owner pipes it, and refuses any later one. Lives on the event
 * loop that created it.
 */
final class SingleConnectionPort {
  private final NetServer server;
  private final Promise<NetSocket> accepted = Promise.promise();

  private SingleConnectionPort(NetServer server) {
    this.server = server;
  }

  static Future<SingleConnectionPort> listen(Vertx vertx, String host) {
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(0).setTcpNoDelay(true));
    SingleConnectionPort port = new SingleConnectionPort(server);
    server.connectHandler(port::handle);
    return server.listen().map(ignored -> port);
  }

  private void handle(NetSocket socket) {
    socket.pause();
    if (!accepted.tryComplete(socket)) {
      socket.close();
    }
  }

  int port() {
    return server.actualPort();
  }

  /** The one connection, paused. */
  Future<NetSocket> accepted() {
    return accepted.future();
  }

  /** Stops listening; {@link #accepted()} fails with {@code whyNoConnection} when nothing connected yet. */
  Future<Void> close(String whyNoConnection) {
    accepted.tryFail(whyNoConnection);
    return server.close();
  }
}
