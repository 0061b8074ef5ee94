package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/**
 * The port {@code criu dump --page-server} connects to on the source node: accepts that one connection,
 * paused, and hands it to the relay that carries it to the destination's page server. Any later
 * connection is refused. Lives on the event loop that created it.
 */
public final class DumpPageSocket {
  private final NetServer server;
  private final Promise<NetSocket> accepted = Promise.promise();

  private DumpPageSocket(NetServer server) {
    this.server = server;
  }

  public static Future<DumpPageSocket> listen(Vertx vertx, String host) {
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(0).setTcpNoDelay(true));
    DumpPageSocket pageSocket = new DumpPageSocket(server);
    server.connectHandler(pageSocket::handle);
    return server.listen().map(ignored -> pageSocket);
  }

  private void handle(NetSocket socket) {
    socket.pause();
    if (!accepted.tryComplete(socket)) {
      socket.close();
    }
  }

  public int port() {
    return server.actualPort();
  }

  /** The dump's connection, paused until the relay pipes it. */
  public Future<NetSocket> accepted() {
    return accepted.future();
  }

  /** Stops listening and closes the dump's connection when there is one (which fails a running dump). */
  public Future<Void> close() {
    accepted.tryFail("page socket closed before the dump connected");
    accepted.future().onSuccess(NetSocket::close);
    return server.close();
  }
}
