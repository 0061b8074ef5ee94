package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;

/**
 * The port {@code criu dump --page-server} connects to on the source node: accepts that one connection,
 * paused, and hands it to the relay that carries it to the destination's page server. Any later
 * connection is refused. Lives on the event loop that created it.
 */
public final class DumpPageSocket {
  private final SingleConnectionPort port;

  private DumpPageSocket(SingleConnectionPort port) {
    this.port = port;
  }

  public static Future<DumpPageSocket> listen(Vertx vertx, String host) {
    return SingleConnectionPort.listen(vertx, host).map(DumpPageSocket::new);
  }

  public int port() {
    return port.port();
  }

  /** The dump's connection, paused until the relay pipes it. */
  public Future<NetSocket> accepted() {
    return port.accepted();
  }

  /** Stops listening and closes the dump's connection when there is one (which fails a running dump). */
  public Future<Void> close() {
    port.accepted().onSuccess(NetSocket::close);
    return port.close("page socket closed before the dump connected");
  }
}
