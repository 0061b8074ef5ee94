package io.ums.coordinator.peer;

import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.ums.protocol.security.BearerToken;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which destination coordinators a migration may go to, and which token each gets. A peer token opens
 * {@code /v1/reservations}, whose answers are data-plane tokens for this cluster's agents: it goes only to
 * this coordinator itself and to the destinations configured with {@code --peer} / {@code --peers-file},
 * never to a URL a user names. As soon as a peer token or a peer is configured, any other
 * {@code destinationUrl} is refused (403 DESTINATION_NOT_ALLOWED) before anything is sent to it. With
 * neither, there is nothing to leak and any destination is allowed (development).
 *
 * <p>URLs are compared as scheme://host:port/path, lower case, with the scheme's default port written out.
 * This coordinator is itself under its loopback names (127.0.0.1, localhost, ::1) when it listens on them
 * or on every address, and under the address it listens on.
 */
public final class DestinationPolicy {
  private final Optional<BearerToken> ownPeerToken;
  private final Map<String, Optional<BearerToken>> peers;
  private volatile Set<String> self = Set.of();

  /**
   * @param ownPeerToken this coordinator's --peer-token-file: what it accepts, sends to itself and to the peers
   *     listed without a token of their own
   * @param peers destination coordinator URL to its own token (empty: the shared peer token)
   */
  public DestinationPolicy(Optional<BearerToken> ownPeerToken, Map<String, Optional<BearerToken>> peers) {
    this.ownPeerToken = ownPeerToken;
    Map<String, Optional<BearerToken>> normalized = new LinkedHashMap<>();
    peers.forEach((url, token) -> normalized.put(normalize(url), token));
    this.peers = Map.copyOf(normalized);
  }

  /** Learns this coordinator's own URLs once its server listens. */
  public void listeningOn(String scheme, String host, int port) {
    Set<String> names = new HashSet<>();
    boolean everyAddress = host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    if (everyAddress || isLoopback(host)) {
      for (String loopback : new String[] {"127.0.0.1", "localhost", "[::1]"}) {
        names.add(normalize(scheme + "://" + loopback + ":" + port));
      }
    }
    if (!everyAddress) {
      names.add(normalize(scheme + "://" + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host)
          + ":" + port));
    }
    self = Set.copyOf(names);
  }

  /** Whether destinations are checked at all (a peer token or a peer is configured). */
  public boolean restricted() {
    return ownPeerToken.isPresent() || !peers.isEmpty();
  }

  /**
   * The token to send to the destination coordinator at {@code destinationUrl} (empty: none), or a
   * 403 DESTINATION_NOT_ALLOWED naming the URL when it is neither this coordinator nor a configured peer.
   */
  public Optional<BearerToken> tokenFor(String destinationUrl) {
    String url = normalize(destinationUrl);
    if (self.contains(url)) {
      return ownPeerToken;
    }
    Optional<BearerToken> listed = peers.get(url);
    if (listed != null) {
      return listed.isPresent() ? listed : ownPeerToken;
    }
    if (!restricted()) {
      return Optional.empty();
    }
    throw new MigrationException(Failure.DESTINATION_NOT_ALLOWED, "destinationUrl: " + url
        + " is not a destination coordinator this coordinator is configured for (--peer / --peers-file; known: "
        + (peers.isEmpty() ? "none but itself" : String.join(", ", peers.keySet()))
        + "); its peer token goes to no other URL");
  }

  /** scheme://host:port/path in lower case (path as given, without a trailing slash). */
  static String normalize(String url) {
    URI uri;
    try {
      uri = new URI(url.strip());
    } catch (URISyntaxException e) {
      throw MigrationException.badField("destinationUrl", "is not a URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
      throw MigrationException.badField("destinationUrl", "must be an http(s) URL, got '" + url + "'");
    }
    if (uri.getRawUserInfo() != null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw MigrationException.badField("destinationUrl", "must be scheme://host:port[/path], without user, query or"
          + " fragment");
    }
    int port = uri.getPort() != -1 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    while (path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + ":" + port + path;
  }

  private static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    try {
      // a literal address only: no name lookup happens for it
      return (host.matches("[0-9.]+") || host.contains(":")) && InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException notAnAddress) {
      return false;
    }
  }
}
