package io.ums.coordinator.peer;

import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import java.util.Map;
import java.util.Optional;

/**
 * What the coordinator presents and trusts when it calls out: the agents' control token, the peer token
 * ({@code /v1/reservations}: this coordinator's own, sent to itself and to peers listed without one), the
 * destination coordinators it may migrate to with their own tokens ({@link DestinationPolicy}), whom it trusts
 * for https:// URLs, and whether agents are reached over https even where their URL says http (Kubernetes
 * discovery builds http:// URLs from pod addresses; {@code --agent-tls} turns them into https://).
 */
public record PeerCredentials(Optional<BearerToken> agentToken, Optional<BearerToken> peerToken, ClientTls trust,
                              boolean agentTls, Map<String, Optional<BearerToken>> peers) {
  private static final String PLAIN = "http://";

  /** No destination coordinator configured besides this one. */
  public PeerCredentials(Optional<BearerToken> agentToken, Optional<BearerToken> peerToken, ClientTls trust,
                         boolean agentTls) {
    this(agentToken, peerToken, trust, agentTls, Map.of());
  }

  public static PeerCredentials none() {
    return new PeerCredentials(Optional.empty(), Optional.empty(), ClientTls.jvmDefault(), false);
  }

  /** The same, with these destination coordinators (URL to its own token, or empty for the peer token). */
  public PeerCredentials withPeers(Map<String, Optional<BearerToken>> destinations) {
    return new PeerCredentials(agentToken, peerToken, trust, agentTls, Map.copyOf(destinations));
  }

  /** Decides which destination coordinators get which token. */
  public DestinationPolicy destinations() {
    return new DestinationPolicy(peerToken, peers);
  }

  String agentUrl(String url) {
    return agentTls && url.startsWith(PLAIN) ? "https://" + url.substring(PLAIN.length()) : url;
  }
}
