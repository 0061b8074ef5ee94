package io.ums.protocol.security;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of bearer authentication: does a request carry one of the accepted tokens, and the 401
 * answer when it does not ({@code {"error":"UNAUTHORIZED","message":…}} with {@code WWW-Authenticate}). The
 * log line names the method, path and caller, never what the caller sent.
 */
public final class BearerAuth {
  private static final Logger LOG = LoggerFactory.getLogger(BearerAuth.class);

  private final String realm;
  private final List<BearerToken> accepted;
  private final String hint;

  /**
   * @param realm what the token protects, e.g. "ums-agent"
   * @param accepted the tokens that open it (any one)
   * @param hint where a caller gets the token, e.g. "the agent's --control-token-file"
   */
  public BearerAuth(String realm, List<BearerToken> accepted, String hint) {
    if (accepted.isEmpty()) {
      throw new IllegalArgumentException("no token to accept");
    }
    this.realm = realm;
    this.accepted = List.copyOf(accepted);
    this.hint = hint;
  }

  public boolean accepts(HttpServerRequest request) {
    String header = request.getHeader(HttpHeaders.AUTHORIZATION);
    boolean ok = false;
    for (BearerToken token : accepted) {
      ok |= token.matches(header); // no early exit: the time does not tell which token matched
    }
    return ok;
  }

  /** Answers 401 and logs one line. */
  public void reject(HttpServerRequest request) {
    boolean sent = request.getHeader(HttpHeaders.AUTHORIZATION) != null;
    String message = sent
        ? "bearer token not accepted for " + request.method() + " " + request.path()
        : request.method() + " " + request.path() + " needs Authorization: Bearer <token> (" + hint + ")";
    LOG.info("401 {} {} from {}: {}", request.method(), request.path(), request.remoteAddress(),
        sent ? "wrong token" : "no token");
    request.response()
        .setStatusCode(401)
        .putHeader("WWW-Authenticate", "Bearer realm=\"" + realm + "\""
            + (sent ? ", error=\"invalid_token\"" : ""))
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(new JsonObject().put("error", "UNAUTHORIZED").put("message", message).encode());
  }
}
