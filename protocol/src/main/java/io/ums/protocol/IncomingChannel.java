package io.ums.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;

/**
 * The receiving end of a channel the peer opened. Credit goes back to the peer as the handler
 * consumes bytes, so a paused channel holds at most its window. The end handler fires only
 * after CLOSE arrived and its length and CRC-32C matched; the exception handler receives
 * {@link UmsProtocolException}s (CHECKSUM_MISMATCH, CHANNEL_RESET, CONNECTION_LOST, ...).
 * Bytes and the end wait until a handler or an end handler is set, so attaching late loses
 * nothing; the sender's {@code end()} completes only after the end was delivered here.
 */
public interface IncomingChannel extends ReadStream<Buffer> {
  int id();

  String kind();

  JsonObject metadata();

  boolean compressed();

  /** Aborts this channel only; the connection and its other channels go on. */
  void reset(ProtocolError code, String message);

  long bytesReceived();
}
