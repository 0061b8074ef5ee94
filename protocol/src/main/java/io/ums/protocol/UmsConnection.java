package io.ums.protocol;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;

/**
 * An authenticated UMS connection carrying many channels. Bound to one event loop: handlers run
 * there, and calls from other threads are handed over to it.
 */
public interface UmsConnection {
  String sessionId();

  /** Opens an uncompressed channel (the client opens odd ids, the server even ids). */
  Future<OutgoingChannel> openChannel(String kind, JsonObject metadata);

  /** Opens a channel, LZ4-compressed when {@code compress} and both sides negotiated lz4. */
  Future<OutgoingChannel> openChannel(String kind, JsonObject metadata, boolean compress);

  /** Called for each channel the peer opens. Without a handler peer channels are reset. */
  UmsConnection channelHandler(Handler<IncomingChannel> handler);

  /** Called once when the connection is gone, for any reason. */
  UmsConnection closeHandler(Handler<Void> handler);

  /** Connection-level protocol errors ({@link UmsProtocolException}). */
  UmsConnection exceptionHandler(Handler<Throwable> handler);

  /** Graceful: no new channels either way, open ones finish, then the connection closes. */
  Future<Void> goAway(ProtocolError code, String message);

  Future<Void> close();

  ConnectionStats stats();
}
