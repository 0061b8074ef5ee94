package io.ums.agent.dataplane;

import io.ums.protocol.SocketPipes;
import io.ums.protocol.SocketReads;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;

/**
 * The port {@code criu dump --page-server} connects to on the source node: accepts that one connection,
 * takes its reads at once (so the relay sends the pages in the buffers the socket read them into, see
 * {@link SocketPipes}) and hands it to the relay that carries it to the destination's page server. Any
 * later connection is refused. Lives on the event loop that created it.
 */
public final class DumpPageSocket {
  private final SingleConnectionPort port;
  private final Future<SocketReads> reads;

  private DumpPageSocket(SingleConnectionPort port, Future<SocketReads> reads) {
    this.port = port;
    this.reads = reads;
  }

  public static Future<DumpPageSocket> listen(Vertx vertx, String host) {
    Promise<SocketReads> reads = Promise.promise();
    return SingleConnectionPort.listen(vertx, host, socket -> reads.tryComplete(SocketPipes.takeReads(socket)))
        .map(port -> {
          port.accepted().onFailure(reads::tryFail);
          return new DumpPageSocket(port, reads.future());
        });
  }

  public int port() {
    return port.port();
  }

  /** The dump's connection, reading nothing until the relay pipes it. */
  public Future<SocketReads> accepted() {
    return reads;
  }

  /** Stops listening and closes the dump's connection when there is one (which fails a running dump). */
  public Future<Void> close() {
    port.accepted().onSuccess(NetSocket::close);
    return port.close("page socket closed before the dump connected");
  }
}
