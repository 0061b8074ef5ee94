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
}
