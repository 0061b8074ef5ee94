package io.ums.coordinator.peer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.ums.protocol.security.BearerToken;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which destination gets which peer token: URLs compared as scheme, host, port and path. */
class DestinationPolicyTest {
  private static final BearerToken OWN = BearerToken.random();
  private static final BearerToken THEIRS = BearerToken.random();

  @Test
  void itselfAndListedPeersGetTheirTokenWhateverTheUrlsSpelling() {
    DestinationPolicy policy = new DestinationPolicy(Optional.of(OWN),
        Map.of("https://Other.Example:443/", Optional.of(THEIRS), "http://shared.example", Optional.empty()));
    policy.listeningOn("http", "0.0.0.0", 8080);

    assertThat(policy.tokenFor("http://127.0.0.1:8080")).contains(OWN);
    assertThat(policy.tokenFor("http://LOCALHOST:8080/")).contains(OWN);
    assertThat(policy.tokenFor("http://[::1]:8080")).contains(OWN);
    assertThat(policy.tokenFor("https://other.example")).contains(THEIRS);
    assertThat(policy.tokenFor("http://shared.example:80")).contains(OWN);
  }

  @Test
  void anythingElseIsRefusedWhenATokenOrAPeerIsConfigured() {
    DestinationPolicy policy = new DestinationPolicy(Optional.of(OWN), Map.of());
    policy.listeningOn("https", "127.0.0.1", 8443);

    for (String url : new String[] {"http://127.0.0.1:8443", "https://127.0.0.1:8444", "https://10.0.0.9:8443",
        "https://127.0.0.1:8443/frontman/..", "https://other.example"}) {
      assertThatThrownBy(() -> policy.tokenFor(url)).as(url).isInstanceOfSatisfying(MigrationException.class,
          e -> assertThat(e.failure()).isEqualTo(Failure.DESTINATION_NOT_ALLOWED));
    }
    assertThat(policy.tokenFor("https://127.0.0.1:8443")).contains(OWN);
  }

  @Test
  void boundToOneAddressOnlyThatAddressIsItself() {
    DestinationPolicy policy = new DestinationPolicy(Optional.of(OWN), Map.of());
    policy.listeningOn("http", "10.0.0.5", 8080);

    assertThat(policy.tokenFor("http://10.0.0.5:8080")).contains(OWN);
    assertThatThrownBy(() -> policy.tokenFor("http://127.0.0.1:8080")).isInstanceOf(MigrationException.class);
  }

  @Test
  void withNothingConfiguredAnyDestinationIsTriedWithoutAToken() {
    DestinationPolicy policy = new DestinationPolicy(Optional.empty(), Map.of());

    assertThat(policy.tokenFor("http://anywhere.example:9000")).isEmpty();
    assertThatThrownBy(() -> policy.tokenFor("http://user@anywhere.example:9000"))
        .isInstanceOfSatisfying(MigrationException.class, e -> assertThat(e.failure()).isEqualTo(Failure.BAD_REQUEST));
  }
}
