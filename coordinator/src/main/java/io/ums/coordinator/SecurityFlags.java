package io.ums.coordinator;

import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.ums.protocol.security.ServerTls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** The coordinator's token and TLS flags (a picocli mixin of {@link CoordinatorMain}). */
final class SecurityFlags {
  private static final Logger LOG = LoggerFactory.getLogger(SecurityFlags.class);

  @Option(names = "--agent-token-file",
      description = "file holding the agents' control token (their --control-token-file), sent to every agent")
  Path agentTokenFile;

  @Option(names = "--peer-token-file",
      description = "file holding the token coordinators exchange: /v1/reservations here requires it; it is sent"
          + " to this coordinator itself and to the --peer destinations given without a token file of their own")
  Path peerTokenFile;

  @Option(names = "--peer", paramLabel = "URL[=TOKEN_FILE]",
      description = "a destination coordinator migrations may go to (repeatable), with the file of the peer token"
          + " it accepts (default: --peer-token-file). Once a peer token or a peer is configured, any other"
          + " destinationUrl is refused with 403 and nothing is sent to it")
  List<String> peers = new ArrayList<>();

  @Option(names = "--peers-file", description = "YAML or JSON map of destination coordinators, URL: TOKEN_FILE"
      + " (or null for --peer-token-file); relative token files are read next to it")
  Path peersFile;

  @Option(names = "--api-token-file",
      description = "file holding the token of the user API (/migrate, /migrations, /list, /demo);"
          + " /healthcheck and /frontman stay open")
  Path apiTokenFile;

  @Option(names = "--tls-cert", description = "PEM certificate chain: the API then speaks HTTPS only")
  Path tlsCert;

  @Option(names = "--tls-key", description = "PEM private key that goes with --tls-cert")
  Path tlsKey;

  @Option(names = "--ca", description = "PEM CA certificate(s) trusted for https:// agents and destination"
      + " coordinators (default: the JVM's trust store); host names are always verified")
  Path ca;

  @Option(names = "--agent-tls", description = "reach agents over https (their --tls-cert); Kubernetes"
      + " discovery then builds https:// URLs")
  boolean agentTls;

  /** Blocking: reads the files (start-up, before anything listens) and warns about what stays open. */
  CoordinatorSecurity load() throws IOException {
    Optional<BearerToken> api = read("--api-token-file", apiTokenFile);
    Optional<BearerToken> peer = read("--peer-token-file", peerTokenFile);
    Optional<BearerToken> agent = read("--agent-token-file", agentTokenFile);
    Optional<ServerTls> tls = ServerTls.fromFlags(tlsCert, tlsKey);
    if (tls.isPresent()) {
      tls.get().verified();
    }
    ClientTls trust = (ca == null ? ClientTls.jvmDefault() : ClientTls.trusting(ca)).verified();
    if (peer.isEmpty()) {
      LOG.warn("no --peer-token-file: anyone who reaches this port can reserve receive sessions on its agents"
          + " (/v1/reservations)");
    }
    if (agent.isEmpty()) {
      LOG.warn("no --agent-token-file: agents that require a control token will answer 401");
    }
    if (tls.isEmpty()) {
      LOG.warn("no --tls-cert: the API and the reservations' data-plane tokens travel in clear text");
    }
    Map<String, Optional<BearerToken>> destinations = PeerList.read(peers, peersFile);
    if (peer.isEmpty() && destinations.isEmpty()) {
      LOG.warn("no --peer-token-file and no --peer: migrations may go to any destinationUrl (nothing secret is"
          + " sent to it)");
    }
    return new CoordinatorSecurity(new ApiAccess(api, peer), tls,
        new PeerCredentials(agent, peer, trust, agentTls).withPeers(destinations));
  }

  private static Optional<BearerToken> read(String flag, Path file) throws IOException {
    return file == null ? Optional.empty() : Optional.of(BearerToken.fromFile(flag, file));
  }
}
