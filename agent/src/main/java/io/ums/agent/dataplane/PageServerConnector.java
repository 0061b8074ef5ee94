package io.ums.agent.dataplane;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;

/**
 * Connects to a {@code criu page-server} that was just started: it announces nothing when it listens,
 * so the first connects may be refused; retry with a short, growing delay until a deadline.
 *
 * <p>Each connection has its own {@link NetClient}, which must stay reachable while the connection is open:
 * Vert.x closes a client that the garbage collector finds unreachable (its cleaner), and that close shuts
 * its connections down after a 30 s grace, i.e. a CRIU page-server session cut mid-stream ~30 s after any
 * GC (seen as CRIU's splice failing with EPIPE, "Session over", under load when post-copy lasted > 30 s).
 * The channel itself holds the client (its close future), not a handler the caller may replace.
 */
public final class PageServerConnector {
  private static final long FIRST_DELAY_MILLIS = 5;
  private static final long MAX_DELAY_MILLIS = 100;

  private PageServerConnector() {}

  public static Future<NetSocket> connect(Vertx vertx, String host, int port, long timeoutMillis) {
    NetClient client = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(1000));
    Promise<NetSocket> promise = Promise.promise();
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
    attempt(vertx, client, host, port, deadline, FIRST_DELAY_MILLIS, promise);
    return promise.future();
  }

  private static void attempt(Vertx vertx, NetClient client, String host, int port, long deadline, long delay,
                              Promise<NetSocket> promise) {
    client.connect(port, host).onComplete(result -> {
      if (result.succeeded()) {
        NetSocket socket = result.result();
        // one client per page-server connection: the open channel keeps it reachable, it goes when the
        // connection goes (callers replace the socket's close handler, so that cannot hold it)
        ((NetSocketInternal) socket).channelHandlerContext().channel().closeFuture()
            .addListener(closed -> client.close());
        promise.complete(socket);
      } else if (System.nanoTime() > deadline) {
        client.close();
        promise.fail("criu page-server at " + host + ":" + port + " did not accept: " + result.cause().getMessage());
      } else {
        vertx.setTimer(delay, id -> attempt(vertx, client, host, port, deadline,
            Math.min(delay * 2, MAX_DELAY_MILLIS), promise));
      }
    });
  }
}
