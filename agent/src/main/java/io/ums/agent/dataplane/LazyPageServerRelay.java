package io.ums.agent.dataplane;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.SocketPipes;
import io.ums.protocol.SocketReads;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;

/**
 * The source's end of a post-copy page stream: connects to the page server {@code criu dump --lazy-pages}
 * opened (it listens only after the post-dump gate said commit, hence the retrying connect), feeds it the
 * destination daemon's requests from the {@link LazyPageChannels#REQUESTS} channel and sends its answers
 * back on a {@link LazyPageChannels#PAGES} channel, in the buffers the socket read them into ({@link SocketPipes}).
 *
 * <p>{@link #lastPageDelivered()} completes when the daemon's close record passes, i.e. the destination
 * has every page and the frozen copy is no longer needed; it fails when the stream broke before that.
 * Whatever happens, the socket to CRIU is closed at the end, so the dump process always finishes: after a
 * clean close CRIU leaves the tree stopped ({@code --leave-stopped}); after a broken stream it may also
 * resume it itself. Lives on the event loop that created it.
 */
public final class LazyPageServerRelay {
  private final IncomingChannel requestChannel;
  private final LazyPageRequests requests = new LazyPageRequests();
  private final Promise<Void> lastPageDelivered = Promise.promise();
  private final Promise<Void> criuClosed = Promise.promise();
  private NetSocket criu;
  private SocketReads criuReads;
  private OutgoingChannel pagesChannel;

  private LazyPageServerRelay(IncomingChannel requestChannel) {
    this.requestChannel = requestChannel;
    requests.closeHandler(lastPageDelivered::tryComplete);
  }

  /**
   * Starts relaying {@code requestChannel} (paused until CRIU accepts) to CRIU's lazy page server at
   * {@code host:port}; fails when CRIU does not accept within {@code connectTimeoutMillis}.
   */
  public static Future<LazyPageServerRelay> start(Vertx vertx, UmsConnection connection,
                                                  IncomingChannel requestChannel, String host, int port,
                                                  long connectTimeoutMillis) {
    requestChannel.pause();
    LazyPageServerRelay relay = new LazyPageServerRelay(requestChannel);
    return PageServerConnector.connect(vertx, host, port, connectTimeoutMillis)
        .compose(socket -> {
          // CRIU sends nothing before the first request, so no read has happened yet
          relay.criuReads = SocketPipes.takeReads(socket);
          relay.criu = socket;
          socket.closeHandler(ignored -> relay.onCriuClosed());
          return connection.openChannel(LazyPageChannels.PAGES, new JsonObject()
              .put("requestChannel", requestChannel.id()));
        })
        .map(channel -> {
          relay.pagesChannel = channel;
          relay.pump();
          return relay;
        })
        .onFailure(e -> {
          requestChannel.reset(ProtocolError.INTERNAL, "no lazy page server: " + e.getMessage());
          if (relay.criu != null) {
            relay.criu.close();
          }
        });
  }

  private void pump() {
    requestChannel.handler(buffer -> {
      requests.feed(buffer);
      criu.write(buffer);
      if (criu.writeQueueFull()) {
        requestChannel.pause();
        criu.drainHandler(ignored -> requestChannel.resume());
      }
    });
    // the daemon closed its socket after its close record: CRIU waits for exactly this end
    requestChannel.endHandler(ignored -> criu.close());
    requestChannel.exceptionHandler(e -> abort("page requests failed: " + e.getMessage()));
    // a broken socket (CRIU killed) fails the pipe without ending the channel: the destination must hear it
    // as a failure (it kills its copy), never as a stream that ended
    criuReads.pipeTo(pagesChannel)
        .onFailure(e -> abort("CRIU's lazy page server failed: " + e.getMessage()));
    requestChannel.resume();
  }

  private void onCriuClosed() {
    lastPageDelivered.tryFail("CRIU's lazy page server closed before the last page");
    criuClosed.tryComplete();
  }

  /** Gives up the stream: the destination is told, CRIU's socket closed. */
  public void abort(String why) {
    lastPageDelivered.tryFail(why);
    if (pagesChannel != null) {
      pagesChannel.reset(ProtocolError.CANCELLED, why);
    }
    requestChannel.reset(ProtocolError.CANCELLED, why);
    if (criu != null) {
      criu.close();
    }
  }

  /** Completes when the destination daemon has every page (its close record passed). */
  public Future<Void> lastPageDelivered() {
    return lastPageDelivered.future();
  }

  /** Completes when the socket to CRIU is closed (its session over, either way). */
  public Future<Void> criuClosed() {
    return criuClosed.future();
  }

  public long bytesServed() {
    return pagesChannel == null ? 0 : pagesChannel.bytesWritten();
  }

  public long requestsServed() {
    return requests.requests();
  }
}
