package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.util.function.Consumer;

/**
 * A local port for one CRIU connection ({@code criu dump --page-server}, {@code criu lazy-pages}): accepts
 * the first connection, paused until its owner pipes it, and refuses any later one. Lives on the event
 * loop that created it.
 */
final class SingleConnectionPort {
  private final NetServer server;
  private final Consumer<NetSocket> atAccept;
  private final Promise<NetSocket> accepted = Promise.promise();

  private SingleConnectionPort(NetServer server, Consumer<NetSocket> atAccept) {
    this.server = server;
    this.atAccept = atAccept;
  }

  static Future<SingleConnectionPort> listen(Vertx vertx, String host) {
    return listen(vertx, host, socket -> { });
  }

  /** {@code atAccept} runs on the accepted socket before the event loop reads from it. */
  static Future<SingleConnectionPort> listen(Vertx vertx, String host, Consumer<NetSocket> atAccept) {
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(0).setTcpNoDelay(true));
    SingleConnectionPort port = new SingleConnectionPort(server, atAccept);
    server.connectHandler(port::handle);
    return server.listen().map(ignored -> port);
  }

  private void handle(NetSocket socket) {
    socket.pause();
    if (accepted.future().isComplete()) {
      socket.close();
      return;
    }
    atAccept.accept(socket);
    accepted.tryComplete(socket);
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
