package io.ums.protocol;

import io.ums.protocol.impl.UmsServerImpl;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;

/** Accepts UMS connections; hands over only those that completed the handshake. */
public interface UmsServer {
  static UmsServer create(Vertx vertx, UmsServerOptions options) {
    return new UmsServerImpl(vertx, options);
  }

  /** Looks up session tokens; without one every handshake fails with AUTH_FAILED. */
  UmsServer authenticator(SessionAuthenticator authenticator);

  /** Called for each connection after a successful handshake. */
  UmsServer connectHandler(Handler<UmsConnection> handler);

  /**
   * With TLS on, makes the server's TLS key and certificate now (off the event loop) rather than when the
   * first TLS connection arrives, so that connection does not wait for them; done at once with TLS off.
   */
  Future<Void> prepareTls();

  /** Listens; completes with the actual port (port 0 picks a free one). */
  Future<Integer> listen(int port, String host);

  Future<Void> close();
}
