package io.ums.protocol;

import io.vertx.core.buffer.Buffer;
import java.util.Optional;

/**
 * Looks up the one-time token of a session. Called once per handshake on the server's event
 * loop, so it must not block; forgetting the token after use (one-time) is up to it.
 */
@FunctionalInterface
public interface SessionAuthenticator {
  Optional<Buffer> tokenFor(String sessionId);

  /**
   * Whether the session accepts only a TLS connection (PROTOCOL.md 2.4): a plain HELLO for it is refused
   * with TLS_REQUIRED before its token is looked up. None does unless said so.
   */
  default boolean requiresTls(String sessionId) {
    return false;
  }
}
