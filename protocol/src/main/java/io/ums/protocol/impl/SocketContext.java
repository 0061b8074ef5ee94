package io.ums.protocol.impl;

import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.impl.ConnectionBase;

/** The event-loop context a socket's handlers run on; connections bind themselves to it. */
final class SocketContext {
  private SocketContext() {}

  static ContextInternal of(NetSocket socket) {
    if (socket instanceof ConnectionBase connection) {
      return connection.context();
    }
    return (ContextInternal) Vertx.currentContext();
  }
}
