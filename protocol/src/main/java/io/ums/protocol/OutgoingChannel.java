package io.ums.protocol;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;

/**
 * The sending end of a channel. {@link #writeQueueFull()} turns true while the bytes waiting
 * for the peer's credit (or for the socket) exceed the write queue size, so {@code pipeTo}
 * follows the receiver's pace.
 */
public interface OutgoingChannel extends WriteStream<Buffer> {
  int id();

  /**
   * Sends CLOSE (total length, CRC-32C of every byte). Completes only when the receiver verified
   * both and its consumer consumed everything (CLOSE_ACK); fails with {@link UmsProtocolException}
   * when the peer resets the channel or the connection dies.
   */
  @Override
  Future<Void> end();

  /** Aborts this channel only; the connection and its other channels go on. */
  void reset(ProtocolError code, String message);

  long bytesWritten();
}
