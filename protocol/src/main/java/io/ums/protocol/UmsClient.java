package io.ums.protocol;

import io.ums.protocol.impl.UmsClientImpl;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

/** Opens UMS connections to peers. */
public interface UmsClient {
  static UmsClient create(Vertx vertx, UmsClientOptions options) {
    return new UmsClientImpl(vertx, options);
  }

  /**
   * Connects and authenticates with the session's one-time token (which never crosses the wire).
   * Fails with {@link UmsProtocolException} (AUTH_FAILED, VERSION_MISMATCH, ...) when refused.
   */
  Future<UmsConnection> connect(String host, int port, String sessionId, Buffer token);

  Future<Void> close();
}
