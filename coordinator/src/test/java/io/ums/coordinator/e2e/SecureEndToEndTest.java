package io.ums.coordinator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.testkit.MemServiceClient;
import io.ums.testkit.TestCertificates;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.CoordinatorSecurity;
import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real migration with everything closed: two network-namespace nodes (prefix "usec"), a real agent JVM in
 * each serving its control API over HTTPS with a certificate for its node's address and requiring a control
 * token, CRIU underneath, and a coordinator serving HTTPS that trusts only the test CA, sends the agent token
 * to its agents and the peer token to itself (the destination), and requires the API token from its user.
 */
@Tag("slow")
class SecureEndToEndTest {
  private static final int SERVICE_PORT = 17311;
  private static final int MEMORY_MIB = 32;

  @TempDir
  Path dir;

  private final BearerToken agentToken = BearerToken.random();
  private final BearerToken peerToken = BearerToken.random();
  private final BearerToken apiToken = BearerToken.random();
  private LocalModeBed bed;
  private List<AgentNode> agents;
  private Coordinator coordinator;
  private Http.Client user;

  @BeforeEach
  void start() throws Exception {
    TestCertificates pki = TestCertificates.authority(dir.resolve("pki"), "ums-e2e-ca");
    CoordinatorSecurity security = new CoordinatorSecurity(
        new ApiAccess(Optional.of(apiToken), Optional.of(peerToken)),
        Optional.of(pki.server("coordinator", List.of("127.0.0.1"))),
        new PeerCredentials(Optional.of(agentToken), Optional.of(peerToken), ClientTls.trusting(pki.caCertificate()),
            false));
    bed = LocalModeBed.start("usec", dir, node -> new AgentNode(node, dir.resolve(node.name()), agentToken)
            .withTls(pki.server(node.name(), List.of(node.address())), pki.caCertificate()),
        new MigrationSettings(Duration.ofMillis(50), Duration.ofSeconds(60)), security);
    agents = bed.agents();
    coordinator = bed.coordinator();
    user = Http.as(Optional.of(apiToken), Optional.of(pki.caCertificate()));
  }

  @AfterEach
  void stop() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void aWorkloadMovesThroughATlsCoordinatorToTlsAgentsWithTokensOn() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    assertThat(source.url()).startsWith("https://");
    assertThat(coordinator.url()).startsWith("https://");
    MemServiceClient.Answer before = bed.launchMemService(source, "secret", SERVICE_PORT, MEMORY_MIB);
    JsonObject request = new JsonObject().put("name", "secret").put("destinationUrl", coordinator.url());

    Answer anonymous = Http.as(Optional.empty(), Optional.of(dir.resolve("pki/ca.crt")))
        .post(coordinator.url() + "/migrate", request);
    Answer done = user.post(coordinator.url() + "/migrate", request);

    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    assertThat(done.json().getJsonObject("destination").getString("node")).isEqualTo(destination.node.name());
    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), SERVICE_PORT, 5000);
    assertThat(after.checksum()).as("memory survived").isEqualTo(before.checksum());
    assertThat(after.counter()).as("counter continued").isGreaterThanOrEqualTo(before.counter());
    assertThat(LocalModeBed.names(destination)).contains("secret");
    assertThat(source.log() + destination.log()).doesNotContain(agentToken.value(), peerToken.value(),
        apiToken.value());
  }
}
