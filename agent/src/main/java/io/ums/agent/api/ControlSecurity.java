package io.ums.agent.api;

import io.ums.protocol.security.BearerAuth;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ServerTls;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Optional;

/**
 * Who may call the control API, and over what. With a token every route but {@code GET /health} (the
 * kubelet's readiness probe carries no token) and {@code GET /metrics} (Prometheus scrapes) answers 401
 * unless the request carries {@code Authorization: Bearer <token>}: the API can checkpoint, start and remove
 * any process on the node, as root. With TLS files the control port speaks only HTTPS.
 */
public record ControlSecurity(Optional<BearerToken> token, Optional<ServerTls> tls) {
  public static ControlSecurity open() {
    return new ControlSecurity(Optional.empty(), Optional.empty());
  }

  public static ControlSecurity withToken(BearerToken token) {
    return new ControlSecurity(Optional.of(token), Optional.empty());
  }

  public ControlSecurity withTls(ServerTls files) {
    return new ControlSecurity(token, Optional.of(files));
  }

  /** Puts the token check in front of every route of the router, those mounted later included. */
  public void guard(Router router) {
    token.ifPresent(secret -> {
      BearerAuth auth = new BearerAuth("ums-agent", List.of(secret), "the agent's --control-token-file");
      Handler<RoutingContext> check = context -> {
        if (isOpen(context) || auth.accepts(context.request())) {
          context.next();
        } else {
          auth.reject(context.request());
        }
      };
      // order -1: before the body handler and every route ControlApi and the container routes add
      router.route().order(-1).handler(check);
    });
  }

  public HttpServerOptions applyTo(HttpServerOptions options) {
    return tls.map(files -> files.applyTo(options)).orElse(options);
  }

  public String scheme() {
    return tls.isPresent() ? "https" : "http";
  }

  private static boolean isOpen(RoutingContext context) {
    String path = context.request().path();
    return context.request().method() == HttpMethod.GET && (path.equals("/health") || path.equals("/metrics"));
  }
}
