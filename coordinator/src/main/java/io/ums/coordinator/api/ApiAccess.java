package io.ums.coordinator.api;

import io.ums.coordinator.peer.CoordinatorClient;
import io.ums.protocol.security.BearerAuth;
import io.ums.protocol.security.BearerToken;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Who may call which part of the coordinator's API.
 * <ul>
 *   <li>{@code /v1/reservations*} (a source coordinator reserving a receive session here; the answer holds a
 *       one-time data-plane token): the peer token ({@code --peer-token-file}).</li>
 *   <li>the user API ({@code /migrate}, {@code /migrations*}, {@code /list}, {@code /demo}, anything
 *       unknown): the API token ({@code --api-token-file}).</li>
 *   <li>{@code GET /} (this cluster's nodes, kernels and CRIU, read by source coordinators before they
 *       migrate here): either token.</li>
 *   <li>{@code GET /healthcheck} (the kubelet's probes) and {@code /frontman/*} (the migrated service's own
 *       clients, who are told 425 / 301): always open.</li>
 * </ul>
 * A part whose token is not configured is open, as before.
 */
public record ApiAccess(Optional<BearerToken> apiToken, Optional<BearerToken> peerToken) {
  public static ApiAccess open() {
    return new ApiAccess(Optional.empty(), Optional.empty());
  }

  /** Puts the check in front of every route of the router. */
  public void guard(Router router) {
    Optional<BearerAuth> user = apiToken.map(token -> new BearerAuth("ums-coordinator", List.of(token),
        "the coordinator's --api-token-file"));
    Optional<BearerAuth> peer = peerToken.map(token -> new BearerAuth("ums-coordinator-peers", List.of(token),
        "the destination coordinator's --peer-token-file, given to the source as its --peer-token-file"));
    List<BearerToken> either = new ArrayList<>();
    apiToken.ifPresent(either::add);
    peerToken.ifPresent(either::add);
    Optional<BearerAuth> description = either.isEmpty() ? Optional.empty()
        : Optional.of(new BearerAuth("ums-coordinator", either, "the API or the peer token"));
    if (user.isEmpty() && peer.isEmpty()) {
      return;
    }
    router.route().order(-1).handler(context -> {
      Optional<BearerAuth> auth = switch (partOf(context.request())) {
        case OPEN -> Optional.empty();
        case PEER -> peer;
        case DESCRIPTION -> description;
        case USER -> user;
      };
      if (auth.isEmpty() || auth.get().accepts(context.request())) {
        context.next();
      } else {
        auth.get().reject(context.request());
      }
    });
  }

  private enum Part { OPEN, PEER, DESCRIPTION, USER }

  private static Part partOf(HttpServerRequest request) {
    String path = request.path();
    if (path.equals("/healthcheck") || path.startsWith("/frontman/")) {
      return Part.OPEN;
    }
    if (path.equals(CoordinatorClient.RESERVATIONS) || path.startsWith(CoordinatorClient.RESERVATIONS + "/")) {
      return Part.PEER;
    }
    if (path.equals("/") && request.method() == HttpMethod.GET) {
      return Part.DESCRIPTION;
    }
    return Part.USER;
  }
}
