package io.ums.protocol;

import io.ums.protocol.impl.OwnedSocketPipes;
import io.vertx.core.Future;
import io.vertx.core.net.NetSocket;

/**
 * Pipes between a local socket and a channel that keep a bulk stream (a checkpoint's page stream) in the
 * buffers the sockets read into. {@code pipeTo} between a Vert.x socket and a channel copies every read
 * twice: into a heap buffer (Vert.x's rule for socket reads) and back into direct memory for the next
 * socket, with a zeroed allocation and young-generation garbage per read. Here a relayed byte is copied
 * only by the kernel, into and out of the agent.
 */
public final class SocketPipes {
  private SocketPipes() {
  }

  /**
   * Takes the reads of a socket just accepted: call it in the server's connect handler, before the event
   * loop reads anything from it.
   */
  public static SocketReads takeReads(NetSocket socket) {
    return OwnedSocketPipes.takeReads(socket);
  }

  /**
   * Writes every byte of {@code channel} to {@code socket} as received, at the socket's pace, and ends the
   * socket after the channel's verified end. Completes when the socket ended; ends the socket when the
   * channel fails, as {@code pipeTo} does. When a write fails it stops taking the channel's bytes (so the
   * sender soon runs out of credit) and fails; the channel is left to its owner, who may know why the socket
   * failed (a page server that found the disk full).
   */
  public static Future<Void> toSocket(IncomingChannel channel, NetSocket socket) {
    return OwnedSocketPipes.toSocket(channel, socket);
  }
}
