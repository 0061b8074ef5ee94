package io.ums.agent.dataplane;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;

/**
 * The destination's end of a post-copy page stream: the local port the {@code criu lazy-pages} daemon
 * takes for its page server. Its requests go into a {@link LazyPageChannels#REQUESTS} channel, the source's
 * answers come back on {@link LazyPageChannels#PAGES} into its socket.
 *
 * <p>Safety: when the stream breaks before the daemon has every page, this never closes the daemon's
 * socket by itself. A daemon that loses its page server exits and closes the tasks' userfaultfds, after
 * which the kernel fills every page still missing with zeros and the workload would run on, silently
 * wrong. {@link #allPagesIn()} fails instead; the owner kills the restored tree first and only then
 * {@link #close()}s. Lives on the event loop that created it.
 */
public final class LazyPagesDaemonSocket {
  private static final int CLOSE_STATUS_BYTES = 4;
  private final SingleConnectionPort port;
  private final Promise<Void> allPagesIn = Promise.promise();
  private final LazyPageRequests requests = new LazyPageRequests();
  private NetSocket daemon;
  private OutgoingChannel requestChannel;
  private IncomingChannel pendingPages;
  private volatile long pagesBytes;
  private long allPagesInNanos = -1;

  private LazyPagesDaemonSocket(SingleConnectionPort port) {
    this.port = port;
    requests.closeHandler(() -> {
      allPagesInNanos = System.nanoTime();
      // Every reply is in (the daemon closes only with no request outstanding); all it waits for now is
      // the page server's 4-byte status. Answer it here: CRIU sends that status on a corked socket, where
      // it was once seen stuck for 30 s, and the daemon (so the whole post-copy) waited for it. The
      // source's own status is dropped when it comes.
      daemon.write(Buffer.buffer(new byte[CLOSE_STATUS_BYTES]));
      allPagesIn.tryComplete();
    });
  }

  public static Future<LazyPagesDaemonSocket> listen(Vertx vertx, String host) {
    return SingleConnectionPort.listen(vertx, host).map(LazyPagesDaemonSocket::new);
  }

  public int port() {
    return port.port();
  }

  /** Relays the daemon's connection over {@code connection} as soon as the daemon connects. */
  public void relay(UmsConnection connection, JsonObject metadata) {
    port.accepted().onSuccess(socket -> {
      daemon = socket;
      connection.openChannel(LazyPageChannels.REQUESTS, metadata).onComplete(opened -> {
        if (opened.failed()) {
          broken("cannot open the page request channel: " + opened.cause().getMessage());
          return;
        }
        requestChannel = opened.result();
        socket.handler(buffer -> {
          requests.feed(buffer);
          requestChannel.write(buffer);
          if (requestChannel.writeQueueFull()) {
            socket.pause();
            requestChannel.drainHandler(ignored -> socket.resume());
          }
        });
        socket.endHandler(ignored -> daemonClosed());
        if (pendingPages != null) {
          pipePages(pendingPages);
        }
        socket.resume();
      });
    });
  }

  /** The source opened the page channel (possibly before the daemon connected). */
  public void pagesChannel(IncomingChannel channel) {
    channel.exceptionHandler(e -> broken("page channel failed: " + e.getMessage()));
    if (daemon != null && requestChannel != null) {
      pipePages(channel);
    } else {
      channel.pause();
      pendingPages = channel;
    }
  }

  private void pipePages(IncomingChannel channel) {
    // the source's page server ending while the daemon still waits for pages: the source is gone
    channel.endHandler(ignored -> {
      if (!requests.closed()) {
        broken("the source's page server ended before the last page");
      }
    });
    channel.handler(buffer -> {
      if (requests.closed()) {
        return;
      }
      pagesBytes += buffer.length();
      daemon.write(buffer);
      if (daemon.writeQueueFull()) {
        channel.pause();
        daemon.drainHandler(ignored -> channel.resume());
      }
    });
    channel.resume();
  }

  private void daemonClosed() {
    if (requests.closed()) {
      requestChannel.end();
    } else {
      requestChannel.reset(ProtocolError.CANCELLED, "criu lazy-pages closed its page server before the last page");
      broken("criu lazy-pages closed its page server before the last page");
    }
  }

  /** The migration connection is gone (its close handler belongs to the caller, who tells us here). */
  public void connectionLost(String why) {
    broken(why);
  }

  private void broken(String why) {
    allPagesIn.tryFail(why);
  }

  /** Completes when the daemon has every page; fails when the stream broke before that. */
  public Future<Void> allPagesIn() {
    return allPagesIn.future();
  }

  /** When the last page arrived (nanoTime), or -1. */
  public long allPagesInNanos() {
    return allPagesInNanos;
  }

  public long pagesBytes() {
    return pagesBytes;
  }

  public long requestsSent() {
    return requests.requests();
  }

  public long pagesRequested() {
    return requests.pagesRequested();
  }

  /**
   * Stops listening and closes the daemon's connection, which ends the daemon. Only after the last page,
   * or after the restored tree is dead (see the class comment).
   */
  public Future<Void> close() {
    allPagesIn.tryFail("closed");
    if (requestChannel != null && !requests.closed()) {
      requestChannel.reset(ProtocolError.CANCELLED, "post-copy abandoned at the destination");
    }
    if (daemon != null) {
      daemon.close();
    }
    return port.close("closed before criu lazy-pages connected");
  }
}
