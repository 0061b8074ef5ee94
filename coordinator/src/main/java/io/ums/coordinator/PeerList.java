package io.ums.coordinator;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.ums.protocol.security.BearerToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The destination coordinators of {@code --peer URL[=TOKEN_FILE]} and {@code --peers-file} (a YAML or JSON
 * map {@code URL: TOKEN_FILE}, null for the shared --peer-token-file). Blocking: read once at start-up.
 */
final class PeerList {
  private PeerList() {}

  static Map<String, Optional<BearerToken>> read(List<String> flags, Path file) throws IOException {
    Map<String, Optional<BearerToken>> peers = new LinkedHashMap<>();
    for (String flag : flags) {
      int eq = flag.indexOf('=');
      String url = (eq < 0 ? flag : flag.substring(0, eq)).strip();
      Optional<Path> tokenFile = eq < 0 ? Optional.empty() : Optional.of(Path.of(flag.substring(eq + 1).strip()));
      peers.put(checkedUrl("--peer", url), token("--peer " + url, tokenFile));
    }
    if (file != null) {
      Object root = new KubernetesSerialization().unmarshal(Files.readString(file), Map.class);
      if (!(root instanceof Map<?, ?> map)) {
        throw new IllegalArgumentException("--peers-file " + file + ": expected a map of URL: token file");
      }
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        String url = checkedUrl("--peers-file " + file, String.valueOf(entry.getKey()));
        Optional<Path> tokenFile = entry.getValue() == null ? Optional.empty()
            : Optional.of(file.toAbsolutePath().getParent().resolve(entry.getValue().toString()));
        peers.put(url, token("--peers-file entry " + url, tokenFile));
      }
    }
    return peers;
  }

  private static String checkedUrl(String where, String url) {
    try {
      new java.net.URI(url);
    } catch (java.net.URISyntaxException e) {
      throw new IllegalArgumentException(where + ": not a URL: " + e.getMessage());
    }
    if (!(url.startsWith("http://") || url.startsWith("https://"))) {
      throw new IllegalArgumentException(where + ": expected an http(s) URL of a destination coordinator, got '"
          + url + "'");
    }
    return url;
  }

  private static Optional<BearerToken> token(String flag, Optional<Path> file) throws IOException {
    return file.isEmpty() ? Optional.empty() : Optional.of(BearerToken.fromFile(flag, file.get()));
  }
}
