package io.ums.coordinator.peer;

import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import java.util.Optional;

/**
 * What the coordinator presents and trusts when it calls out: the agents' control token, the token of
 * destination coordinators ({@code /v1/reservations}), whom it trusts for https:// URLs, and whether agents
 * are reached over https even where their URL says http (Kubernetes discovery builds http:// URLs from pod
 * addresses; {@code --agent-tls} turns them into https://).
 */
public record PeerCredentials(Optional<BearerToken> agentToken, Optional<BearerToken> peerToken, ClientTls trust,
                              boolean agentTls) {
  private static final String PLAIN = "http://";

  public static PeerCredentials none() {
    return new PeerCredentials(Optional.empty(), Optional.empty(), ClientTls.jvmDefault(), false);
  }

  String agentUrl(String url) {
    return agentTls && url.startsWith(PLAIN) ? "https://" + url.substring(PLAIN.length()) : url;
  }
}
