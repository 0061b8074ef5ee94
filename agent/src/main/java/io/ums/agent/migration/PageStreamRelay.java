package io.ums.agent.migration;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.SocketReads;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;

/**
 * A dump's page-server connection carried over the migration connection, for every checkpoint that
 * streams pages through CRIU's page server (criu dump, runc checkpoint): the dump's bytes go into a
 * {@link Channels#PAGES} channel, the remote page server's answers come back on
 * {@link Channels#PAGES_REPLY} into the dump's socket. Lives on the migration's event loop.
 */
final class PageStreamRelay {
  private final UmsConnection connection;
  private final String workloadId;
  private final Promise<Void> sent = Promise.promise();
  private NetSocket dumpSocket;
  private IncomingChannel pendingReply;
  private OutgoingChannel pagesChannel;
  private long connectedNanos = -1;

  PageStreamRelay(UmsConnection connection, String workloadId) {
    this.connection = connection;
    this.workloadId = workloadId;
  }

  /** The dump connected to its page-server socket: its bytes start flowing to the destination. */
  void dumpConnected(SocketReads dump) {
    connectedNanos = System.nanoTime();
    NetSocket socket = dump.socket();
    dumpSocket = socket;
    if (pendingReply != null) {
      pendingReply.pipeTo(socket);
    }
    connection.openChannel(Channels.PAGES, new JsonObject().put("workloadId", workloadId))
        .onSuccess(channel -> {
          pagesChannel = channel;
          dump.pipeTo(channel).onComplete(sent);
        })
        .onFailure(sent::tryFail);
  }

  /** The destination opened the reply channel (possibly before the dump connected). */
  void replyChannel(IncomingChannel channel) {
    if (dumpSocket != null) {
      channel.pipeTo(dumpSocket);
    } else {
      channel.pause();
      pendingReply = channel;
    }
  }

  /** Completes when every page went out and the destination verified the channel. */
  Future<Void> sent() {
    return sent.future();
  }

  /** When the dump connected (nanoTime), or -1. */
  long connectedNanos() {
    return connectedNanos;
  }

  long bytesWritten() {
    return pagesChannel == null ? 0 : pagesChannel.bytesWritten();
  }

  void reset(String why) {
    if (pagesChannel != null) {
      pagesChannel.reset(ProtocolError.CANCELLED, why);
    }
  }
}
