package io.ums.coordinator;

import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.protocol.security.ServerTls;
import io.vertx.core.http.HttpServerOptions;
import java.util.Optional;

/**
 * The coordinator's side of security: who may call it ({@link ApiAccess}), whether it serves HTTPS, and
 * what it presents and trusts when it calls agents and destination coordinators ({@link PeerCredentials}).
 */
public record CoordinatorSecurity(ApiAccess access, Optional<ServerTls> tls, PeerCredentials outgoing) {
  /** Open, plain HTTP, no tokens sent: development and the tests that are not about security. */
  public static CoordinatorSecurity none() {
    return new CoordinatorSecurity(ApiAccess.open(), Optional.empty(), PeerCredentials.none());
  }

  HttpServerOptions serverOptions() {
    HttpServerOptions options = new HttpServerOptions();
    return tls.map(files -> files.applyTo(options)).orElse(options);
  }

  String scheme() {
    return tls.isPresent() ? "https" : "http";
  }
}
