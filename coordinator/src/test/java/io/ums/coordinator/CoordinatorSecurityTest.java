package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.Agent;
import io.ums.agent.AgentConfig;
import io.ums.agent.api.ControlSecurity;
import io.ums.agent.api.UnavailableMigrations;
import io.ums.agent.testkit.TestCertificates;
import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.ums.protocol.security.ServerTls;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tokens and TLS between the coordinator, its users, its peers and its agents: real coordinators and a real
 * agent (in this JVM, migration engine stubbed: no migration runs here) over real sockets. A whole migration
 * with tokens and TLS on is SecureEndToEndTest.
 */
class CoordinatorSecurityTest {
  private static final BearerToken AGENT = BearerToken.random();
  private static final BearerToken PEER = BearerToken.random();
  private static final BearerToken API = BearerToken.random();

  @TempDir
  Path dir;
  private Vertx vertx;
  private Agent agent;
  private final List<Coordinator> coordinators = new ArrayList<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() throws Exception {
    for (Coordinator coordinator : coordinators) {
      coordinator.close().await();
    }
    if (agent != null) {
      agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    vertx.close().await();
  }

  private String startAgent(ControlSecurity security) throws Exception {
    agent = Agent.start(AgentConfig.local("node-a", dir.resolve("agent")).withControlSecurity(security),
        UnavailableMigrations::start).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    return security.scheme() + "://127.0.0.1:" + agent.controlPort();
  }

  private Coordinator startCoordinator(String agentUrl, CoordinatorSecurity security) {
    Coordinator coordinator = Coordinator.start(vertx, "127.0.0.1", 0,
        http -> new LocalCluster(List.of(new AgentRef("node-a", agentUrl)), http), MigrationSettings.defaults(),
        security).await();
    coordinators.add(coordinator);
    return coordinator;
  }

  private static CoordinatorSecurity tokens(Optional<BearerToken> agentToken) {
    return new CoordinatorSecurity(new ApiAccess(Optional.of(API), Optional.of(PEER)), Optional.empty(),
        new PeerCredentials(agentToken, Optional.of(PEER), ClientTls.jvmDefault(), false));
  }

  @Test
  void reservationsNeedThePeerTokenAndTheUserApiTheApiToken() throws Exception {
    Coordinator coordinator = startCoordinator(startAgent(ControlSecurity.withToken(AGENT)), tokens(Optional.of(AGENT)));
    String url = coordinator.url();
    JsonObject reservation = new JsonObject().put("workload", new JsonObject().put("name", "w"));

    Answer anonymous = Http.post(url + "/v1/reservations", reservation);
    Answer withApiToken = Http.as(Optional.of(API), Optional.empty()).post(url + "/v1/reservations", reservation);
    Answer releaseAnonymous = Http.delete(url + "/v1/reservations/some-id");
    Answer withPeerToken = Http.as(Optional.of(PEER), Optional.empty()).post(url + "/v1/reservations", reservation);

    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(anonymous.json().getString("error")).isEqualTo("UNAUTHORIZED");
    assertThat(anonymous.json().getString("message")).contains("--peer-token-file");
    assertThat(anonymous.headers().firstValue("WWW-Authenticate").orElseThrow()).startsWith("Bearer realm=");
    assertThat(withApiToken.status()).isEqualTo(401);
    assertThat(releaseAnonymous.status()).isEqualTo(401);
    assertThat(withPeerToken.status()).as(withPeerToken.body()).isNotEqualTo(401);

    assertThat(Http.post(url + "/migrate", new JsonObject().put("name", "w")).status()).isEqualTo(401);
    assertThat(Http.get(url + "/list").status()).isEqualTo(401);
    assertThat(Http.get(url + "/migrations").status()).isEqualTo(401);
    assertThat(Http.as(Optional.of(PEER), Optional.empty()).get(url + "/list").status()).isEqualTo(401);
    assertThat(Http.as(Optional.of(API), Optional.empty()).get(url + "/list").status()).isEqualTo(200);
    JsonObject described = Http.as(Optional.of(API), Optional.empty()).get(url + "/").json();
    assertThat(described.getJsonArray("agents").getJsonObject(0).getBoolean("ready"))
        .as("the agent accepted the coordinator's agent token: " + described).isTrue();

    assertThat(Http.get(url + "/healthcheck").status()).isEqualTo(200);
    assertThat(Http.get(url + "/").status()).isEqualTo(401);
    assertThat(Http.as(Optional.of(PEER), Optional.empty()).get(url + "/").status()).isEqualTo(200);
    assertThat(Http.as(Optional.of(API), Optional.empty()).get(url + "/").status()).isEqualTo(200);
  }

  @Test
  void anAgentRefusingTheCoordinatorsTokenIs502NamingThe401() throws Exception {
    Coordinator coordinator = startCoordinator(startAgent(ControlSecurity.withToken(AGENT)),
        tokens(Optional.of(BearerToken.random())));

    JsonObject described = Http.as(Optional.of(API), Optional.empty()).get(coordinator.url() + "/").json();

    JsonObject agentSeen = described.getJsonArray("agents").getJsonObject(0);
    assertThat(agentSeen.getBoolean("ready")).isFalse();
    assertThat(agentSeen.getString("problem")).contains("agent node-a", "bearer token not accepted");

    // a migration request must not answer 404 "no such workload" when the agent that has it refused us
    Answer migrate = Http.as(Optional.of(API), Optional.empty()).post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "w").put("destinationUrl", coordinator.url()));
    assertThat(migrate.status()).as(migrate.body()).isEqualTo(502);
    assertThat(migrate.json().getString("message")).contains("node-a did not", "bearer token not accepted");
  }

  @Test
  void overTlsOnlyClientsTrustingTheCaGetThroughAndTheOthersAreToldItIsTls() throws Exception {
    // two CAs: one signs the agent's certificate, the other the destination coordinator's
    TestCertificates agentsCa = TestCertificates.authority(dir.resolve("agents-ca"), "ums-agents-ca");
    TestCertificates coordinatorsCa = TestCertificates.authority(dir.resolve("coordinators-ca"), "ums-coord-ca");
    // the agent's URL says http: --agent-tls upgrades it, as Kubernetes discovery's URLs are
    String agentUrl = startAgent(ControlSecurity.withToken(AGENT)
        .withTls(agentsCa.server("agent", List.of("127.0.0.1")))).replace("https:", "http:");
    Coordinator destination = startCoordinator(agentUrl, new CoordinatorSecurity(
        new ApiAccess(Optional.of(API), Optional.of(PEER)),
        Optional.of(coordinatorsCa.server("coordinator", List.of("127.0.0.1"))),
        new PeerCredentials(Optional.of(AGENT), Optional.of(PEER), ClientTls.trusting(agentsCa.caCertificate()),
            true)));
    // the destination is a configured peer of the source: the peer token may go there (over TLS)
    Coordinator source = startCoordinator(agentUrl, new CoordinatorSecurity(
        new ApiAccess(Optional.of(API), Optional.of(PEER)), Optional.empty(),
        new PeerCredentials(Optional.of(AGENT), Optional.of(PEER), ClientTls.trusting(agentsCa.caCertificate()),
            true).withPeers(java.util.Map.of(destination.url(), Optional.empty()))));
    Coordinator untrusting = startCoordinator(agentUrl, new CoordinatorSecurity(
        new ApiAccess(Optional.of(API), Optional.of(PEER)), Optional.empty(),
        new PeerCredentials(Optional.of(AGENT), Optional.of(PEER), ClientTls.jvmDefault(), true)));
    Http.Client user = Http.as(Optional.of(API), Optional.of(coordinatorsCa.caCertificate()));
    Http.Client agentUser = Http.as(Optional.of(AGENT), Optional.of(agentsCa.caCertificate()));

    assertThat(destination.url()).startsWith("https://");
    JsonObject described = user.get(destination.url() + "/").json();
    assertThat(described.getJsonArray("agents").getJsonObject(0).getBoolean("ready")).as(described.encode())
        .isTrue();

    JsonObject refused = user.get(untrusting.url() + "/").json().getJsonArray("agents").getJsonObject(0);
    assertThat(refused.getBoolean("ready")).isFalse();
    assertThat(refused.getString("problem")).contains("agent node-a", "TLS handshake failed", "--ca")
        .doesNotContain("\tat ");

    // a source coordinator that trusts its agent but not the destination coordinator's certificate
    String agentHttps = agentUrl.replace("http:", "https:");
    Answer launched = agentUser.post(agentHttps + "/v1/workloads", new JsonObject().put("name", "sleeper")
        .put("command", new io.vertx.core.json.JsonArray().add("/bin/sleep").add("60")));
    assertThat(launched.status()).as(launched.body()).isEqualTo(201);
    try {
      Answer migrate = user.post(source.url() + "/migrate", new JsonObject().put("name", "sleeper")
          .put("destinationUrl", destination.url()));
      assertThat(migrate.status()).as(migrate.body()).isEqualTo(502);
      assertThat(migrate.json().getString("error")).isEqualTo("PEER_FAILED");
      assertThat(migrate.json().getString("message")).contains("destination coordinator", "TLS handshake failed")
          .doesNotContain("\tat ");
    } finally {
      agentUser.delete(agentHttps + "/v1/workloads/" + launched.json().getString("id"));
    }
  }
}
