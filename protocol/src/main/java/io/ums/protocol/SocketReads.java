package io.ums.protocol;

import io.vertx.core.Future;
import io.vertx.core.net.NetSocket;

/**
 * A local socket whose reads were taken away from Vert.x when it was accepted ({@link SocketPipes#takeReads}),
 * so that they can go into a channel as the buffers the socket read into. Until {@link #pipeTo} the socket
 * reads nothing (what arrived before stays queued).
 */
public interface SocketReads {
  /** The socket, for writing to it and closing it; its own read handlers never see a byte. */
  NetSocket socket();

  /**
   * Sends everything the socket reads on {@code channel}, at the channel's pace, and ends the channel when
   * the socket closes. Completes when the receiver verified the channel (its {@code end()}); closes the
   * socket when the channel fails. When reading the socket fails, fails without ending the channel (an
   * incomplete stream must not look whole): what becomes of the channel is its owner's decision.
   */
  Future<Void> pipeTo(OutgoingChannel channel);

  /** As {@link #pipeTo(OutgoingChannel)}, into another local socket (which is closed when this one fails). */
  Future<Void> pipeTo(NetSocket socket);
}
