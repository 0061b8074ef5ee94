package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.security.BearerToken;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --peer and --peers-file: each destination coordinator with its own token file, or the shared peer token. */
class PeerListTest {
  @Test
  void flagsAndAFileListDestinationsWithTheirTokens(@TempDir Path dir) throws Exception {
    BearerToken b = BearerToken.random();
    BearerToken d = BearerToken.random();
    b.writeTo(dir.resolve("b.token"));
    Path dToken = d.writeTo(dir.resolve("d.token"));
    Path file = Files.writeString(dir.resolve("peers.yaml"), "https://b.example:8443: b.token\n"
        + "http://c.example:8080: null\n");

    Map<String, Optional<BearerToken>> peers = PeerList.read(
        List.of("https://d.example=" + dToken, "http://e.example:8080"), file);

    assertThat(peers).containsOnlyKeys("https://b.example:8443", "http://c.example:8080", "https://d.example",
        "http://e.example:8080");
    assertThat(peers.get("https://b.example:8443").orElseThrow().value()).isEqualTo(b.value());
    assertThat(peers.get("https://d.example").orElseThrow().value()).isEqualTo(d.value());
    assertThat(peers.get("http://c.example:8080")).isEmpty();
    assertThat(peers.get("http://e.example:8080")).isEmpty();
  }
}
