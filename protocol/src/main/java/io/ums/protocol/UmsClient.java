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

  /**
   * As above; with {@code encrypt}, under TLS 1.3 (PROTOCOL.md 2.4), the handshake's proofs bound to the
   * server's certificate. The server must have TLS on ({@link UmsServerOptions#setTls}).
   */
  Future<UmsConnection> connect(String host, int port, String sessionId, Buffer token, boolean encrypt);

  Future<Void> close();
}
