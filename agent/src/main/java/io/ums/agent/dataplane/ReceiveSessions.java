package io.ums.agent.dataplane;

import io.ums.protocol.SessionAuthenticator;
import io.vertx.core.buffer.Buffer;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Receive sessions prepared on this node and not yet claimed by a source: each has a one-time token of
 * 32 random bytes and an expiry. The data server looks tokens up during the handshake; the first
 * connection that completes it claims the session, after which the token is worthless. A failed handshake
 * (wrong token) does not burn the session, so the rightful source can still come. A session opened
 * {@code encrypted} accepts only a TLS connection.
 */
public final class ReceiveSessions implements SessionAuthenticator {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int TOKEN_BYTES = 32;

  public record Session(String id, Buffer token, Instant expiresAt, boolean encrypted) {
    public String tokenBase64() {
      return Base64.getEncoder().encodeToString(token.getBytes());
    }
  }

  private final Map<String, Session> pending = new ConcurrentHashMap<>();
  private final Clock clock;

  public ReceiveSessions(Clock clock) {
    this.clock = clock;
  }

  /** A session in clear or not, as the source chooses. */
  public Session open(Duration ttl) {
    return open(ttl, false);
  }

  /** {@code encrypted}: the reservation said the pages must be encrypted; a plain connection is refused. */
  public Session open(Duration ttl, boolean encrypted) {
    byte[] token = new byte[TOKEN_BYTES];
    RANDOM.nextBytes(token);
    Session session = new Session(UUID.randomUUID().toString(), Buffer.buffer(token), clock.instant().plus(ttl),
        encrypted);
    pending.put(session.id(), session);
    return session;
  }

  /** The token a connecting source must prove, while the session is pending and not expired. */
  @Override
  public Optional<Buffer> tokenFor(String sessionId) {
    return Optional.ofNullable(pending.get(sessionId)).filter(this::live).map(Session::token);
  }

  @Override
  public boolean requiresTls(String sessionId) {
    Session session = pending.get(sessionId);
    return session != null && session.encrypted();
  }

  /** Claims the session for a connection that proved the token; empty when someone claimed it first. */
  public Optional<Session> claim(String sessionId) {
    return Optional.ofNullable(pending.remove(sessionId)).filter(this::live);
  }

  /** Forgets expired sessions; returns their ids. */
  public java.util.List<String> expire() {
    java.util.List<String> expired = pending.values().stream().filter(session -> !live(session))
        .map(Session::id).toList();
    expired.forEach(pending::remove);
    return expired;
  }

  public boolean isPending(String sessionId) {
    return pending.containsKey(sessionId);
  }

  private boolean live(Session session) {
    return clock.instant().isBefore(session.expiresAt());
  }
}
