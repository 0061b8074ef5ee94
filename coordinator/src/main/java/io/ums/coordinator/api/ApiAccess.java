package io.ums.coordinator.api;

import io.ums.protocol.security.BearerAuth;
import io.ums.protocol.security.BearerToken;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Who may call the coordinator's API. Each route declares what it needs ({@link Need}, see
 * {@link CoordinatorRouter}), and the check runs as the first handler of that route: the router has
 * matched the route on the normalized path by then, so {@code /frontman/../migrate} needs what
 * {@code /migrate} needs. A part whose token is not configured is open.
 */
public record ApiAccess(Optional<BearerToken> apiToken, Optional<BearerToken> peerToken) {
  /** What a route needs. */
  public enum Need {
    /** {@code GET /healthcheck} (the kubelet's probes), {@code /frontman/*} (the migrated service's clients). */
    NOTHING,
    /** {@code /v1/reservations*}: a source coordinator reserving here; the answer holds a data-plane token. */
    PEER_TOKEN,
    /** The user API: {@code /migrate}, {@code /migrations*}, {@code /list}, {@code /demo}. */
    API_TOKEN,
    /** {@code GET /}: this cluster's description, read by users and by source coordinators. */
    EITHER_TOKEN
  }

  public static ApiAccess open() {
    return new ApiAccess(Optional.empty(), Optional.empty());
  }

  /** The first handler of a route that needs {@code need}. */
  Handler<RoutingContext> check(Need need) {
    Optional<BearerAuth> auth = switch (need) {
      case NOTHING -> Optional.empty();
      case PEER_TOKEN -> peerToken.map(token -> new BearerAuth("ums-coordinator-peers", List.of(token),
          "the destination coordinator's --peer-token-file, given to the source as its --peer-token-file"
              + " or --peer"));
      case API_TOKEN -> apiToken.map(token -> new BearerAuth("ums-coordinator", List.of(token),
          "the coordinator's --api-token-file"));
      case EITHER_TOKEN -> either();
    };
    if (auth.isEmpty()) {
      return RoutingContext::next;
    }
    BearerAuth required = auth.get();
    return context -> {
      if (required.accepts(context.request())) {
        context.next();
      } else {
        required.reject(context.request());
      }
    };
  }

  private Optional<BearerAuth> either() {
    List<BearerToken> tokens = new ArrayList<>();
    apiToken.ifPresent(tokens::add);
    peerToken.ifPresent(tokens::add);
    return tokens.isEmpty() ? Optional.empty()
        : Optional.of(new BearerAuth("ums-coordinator", tokens, "the API or the peer token"));
  }
}
