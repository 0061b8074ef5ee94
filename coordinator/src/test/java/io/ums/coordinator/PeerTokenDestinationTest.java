package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.Agent;
import io.ums.agent.AgentConfig;
import io.ums.agent.api.ControlSecurity;
import io.ums.agent.api.UnavailableMigrations;
import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.coordinator.testing.RecordingServer;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer token goes only to configured destination coordinators. A real agent in this JVM (migration
 * engine stubbed) runs a sleeper to migrate; the "destination" a user names is a plain listening socket that
 * records what it receives.
 */
class PeerTokenDestinationTest {
  private static final BearerToken AGENT = BearerToken.random();
  private static final BearerToken PEER = BearerToken.random();
  private static final BearerToken API = BearerToken.random();
  private static final Http.Client USER = Http.as(Optional.of(API), Optional.empty());

  @TempDir
  Path dir;
  private Vertx vertx;
  private Agent agent;
  private String agentUrl;
  private String sleeperId;
  private Coordinator coordinator;
  private RecordingServer stranger;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    stranger = new RecordingServer();
    agent = Agent.start(AgentConfig.local("node-a", dir.resolve("agent")).withControlSecurity(
        ControlSecurity.withToken(AGENT)), UnavailableMigrations::start).toCompletionStage().toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    agentUrl = "http://127.0.0.1:" + agent.controlPort();
    Answer launched = Http.as(Optional.of(AGENT), Optional.empty()).post(agentUrl + "/v1/workloads",
        new JsonObject().put("name", "sleeper").put("command", new JsonArray().add("/bin/sleep").add("60")));
    assertThat(launched.status()).as(launched.body()).isEqualTo(201);
    sleeperId = launched.json().getString("id");
  }

  @AfterEach
  void stop() throws Exception {
    if (coordinator != null) {
      coordinator.close().await();
    }
    Http.as(Optional.of(AGENT), Optional.empty()).delete(agentUrl + "/v1/workloads/" + sleeperId);
    agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    stranger.close();
    vertx.close().await();
  }

  private Coordinator startCoordinator(PeerCredentials outgoing) {
    coordinator = Coordinator.start(vertx, "127.0.0.1", 0,
        http -> new LocalCluster(List.of(new AgentRef("node-a", agentUrl)), http), MigrationSettings.defaults(),
        new CoordinatorSecurity(new ApiAccess(Optional.of(API), Optional.of(PEER)), Optional.empty(), outgoing))
        .await();
    return coordinator;
  }

  @Test
  void anUnlistedDestinationIsRefusedWith403AndReceivesNothing() {
    startCoordinator(new PeerCredentials(Optional.of(AGENT), Optional.of(PEER), ClientTls.jvmDefault(), false));

    Answer refused = USER.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "sleeper").put("destinationUrl", stranger.url()));

    assertThat(stranger.requests()).as("what the stranger received").isEmpty();
    assertThat(refused.status()).as(refused.body()).isEqualTo(403);
    assertThat(refused.json().getString("error")).isEqualTo("DESTINATION_NOT_ALLOWED");
    assertThat(refused.json().getString("message")).startsWith("destinationUrl: ").contains(stranger.url(), "--peer");
    assertThat(refused.body()).doesNotContain(PEER.value());
    JsonObject workload = USER.get(coordinator.url() + "/list").json().getJsonArray("workloads").getJsonObject(0);
    assertThat(workload.getBoolean("migratable")).as("not locked: " + workload).isTrue();
  }

  @Test
  void aListedDestinationGetsItsOwnTokenAndNeverThePeerToken() {
    BearerToken strangersOwn = BearerToken.random();
    startCoordinator(new PeerCredentials(Optional.of(AGENT), Optional.of(PEER), ClientTls.jvmDefault(), false)
        .withPeers(Map.of(stranger.url() + "/", Optional.of(strangersOwn))));

    Answer failed = USER.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "sleeper").put("destinationUrl", stranger.url()));

    assertThat(failed.status()).as(failed.body()).isEqualTo(502);
    assertThat(stranger.requests()).isNotEmpty().allSatisfy(request -> assertThat(request)
        .contains("Authorization: " + strangersOwn.authorization()).doesNotContain(PEER.value()));
  }

  @Test
  void withoutAnyPeerTokenOrPeerAnyDestinationIsTriedWithoutAToken() {
    coordinator = Coordinator.start(vertx, "127.0.0.1", 0,
        http -> new LocalCluster(List.of(new AgentRef("node-a", agentUrl)), http), MigrationSettings.defaults(),
        new CoordinatorSecurity(ApiAccess.open(), Optional.empty(),
            new PeerCredentials(Optional.of(AGENT), Optional.empty(), ClientTls.jvmDefault(), false))).await();

    Answer failed = Http.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "sleeper").put("destinationUrl", stranger.url()));

    assertThat(failed.status()).as(failed.body()).isEqualTo(502);
    assertThat(stranger.requests()).isNotEmpty().noneMatch(request -> request.contains("Authorization"));
  }
}
