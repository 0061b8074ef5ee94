package io.ums.coordinator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.coordinator.Coordinator;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.protocol.security.BearerToken;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The source agent goes away in the middle of a migration: two network-namespace nodes (prefix "ulost"), a
 * real agent JVM in each, CRIU underneath, the C memory service (128 MiB) as the workload, the link slowed so
 * the transfer lasts seconds. The coordinator must tell within seconds, and report what really happened.
 */
@Tag("slow")
class LostSourceAgentEndToEndTest {
  private static final BearerToken TOKEN = BearerToken.random();
  private static final Http.Client HTTP = Http.as(Optional.of(TOKEN), Optional.empty());
  private static final int SERVICE_PORT = 17331;
  private static final int MEMORY_MIB = 128;
  /**
   * Status polls once a second: a drained agent exits within milliseconds of its migration's end, so the
   * coordinator then learns the outcome from its loss, not from a last poll that happened to catch DONE.
   */
  private static final Duration POLL_INTERVAL = Duration.ofSeconds(1);
  /** The phase timeout: a coordinator that only noticed the loss through it would answer after this. */
  private static final Duration PHASE_TIMEOUT = Duration.ofSeconds(90);

  @TempDir
  Path dir;

  private LocalModeBed bed;
  private NetworkTestbed network;
  private List<AgentNode> agents;
  private Coordinator coordinator;

  @BeforeEach
  void start() throws Exception {
    // a drain long enough for the transfer to finish on a busy machine
    bed = LocalModeBed.start("ulost", dir,
        node -> new AgentNode(node, dir.resolve(node.name()), TOKEN).withGracePeriod(90),
        new MigrationSettings(POLL_INTERVAL, PHASE_TIMEOUT).withAgentLossTimeout(Duration.ofSeconds(3)),
        LocalModeBed.oneToken(TOKEN));
    network = bed.network();
    agents = bed.agents();
    coordinator = bed.coordinator();
  }

  @AfterEach
  void stop() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void aSourceAgentKilledMidTransferIsA502WithinSecondsNamingItAndTheWorkloadsState() throws Exception {
    AgentNode source = agents.get(0);
    MemServiceClient.Answer before = launchMemService(source);
    network.limitRate("200mbit");
    String status = startMigrationAndWaitForPages(source);

    source.kill();
    long killedAt = System.nanoTime();

    JsonObject failed = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
        .until(() -> HTTP.get(status).json(), s -> "ROLLED_BACK".equals(s.getString("state")));
    long answeredInMs = (System.nanoTime() - killedAt) / 1_000_000;
    network.limitRate("unlimited");
    System.out.println("kill -9 of the source agent answered in " + answeredInMs + " ms: " + failed.getJsonObject("error"));
    JsonObject error = failed.getJsonObject("error");
    assertThat(error.getString("error")).isEqualTo("PEER_FAILED");
    assertThat(error.getString("message")).contains("lost the source agent on node " + source.node.name(),
        "did not restore", "nothing runs there", "On node " + source.node.name());
    // what the answer said of the source copy holds: it was not removed, and it answers with its memory intact
    MemServiceClient.Answer onSource = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(source.node.address(), SERVICE_PORT, 1000), any -> true);
    assertThat(onSource.checksum()).isEqualTo(before.checksum());
    assertThat(names(agents.get(1))).doesNotContain("lost");
  }

  @Test
  void aSourceAgentStoppedMidMigrationDrainsAndTheCoordinatorReportsWhatItDid() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    MemServiceClient.Answer before = launchMemService(source);
    network.limitRate("400mbit");
    String status = startMigrationAndWaitForPages(source);

    source.terminate();

    assertThat(source.exited(Duration.ofSeconds(120))).as("the agent drained and exited").isTrue();
    JsonObject finished = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
        .until(() -> HTTP.get(status).json(), s -> List.of("DONE", "ROLLED_BACK").contains(s.getString("state")));
    network.limitRate("unlimited");
    assertThat(finished.getString("state")).as(finished.encodePrettily() + "\nsource agent log:\n" + source.log())
        .isEqualTo("DONE");
    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), SERVICE_PORT, 5000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(names(destination)).contains("lost");
  }

  @Test
  void aSourceAgentKilledDuringPostCopyIsResumedOnTheDestinationsVerdictOnceItIsBack() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    MemServiceClient.Answer before = launchMemService(source);
    network.limitRate("100mbit");
    Answer accepted = HTTP.post(coordinator.url() + "/migrations", new JsonObject().put("name", "lost")
        .put("destinationUrl", coordinator.url()).put("mode", "post-copy"));
    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
    String status = coordinator.url() + "/migrations/" + accepted.json().getString("migrationId");
    String agentMigration = agentMigrationOf(status);
    String session = HTTP.get(status).json().getJsonArray("events").stream().map(JsonObject.class::cast)
        .map(e -> e.getString("sessionId")).filter(Objects::nonNull).findFirst().orElseThrow();
    // the destination's restore returned (a source lost while it still faults its first pages in leaves the
    // destination restoring until its restore timeout: not what this test is about)
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> HTTP.get(destination.url() + "/v1/migrations/" + session).json().getJsonObject("postCopy")
            .getString("state"), state -> state.startsWith("post-copy: running here"));
    assertThat(agentMigration).isNotNull();

    source.kill();
    JsonObject finished;
    try {
      finished = await().atMost(PHASE_TIMEOUT.plusSeconds(30)).pollInterval(Duration.ofMillis(50))
          .until(() -> HTTP.get(status).json(), s -> List.of("DONE", "ROLLED_BACK").contains(s.getString("state")));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError("no outcome: " + HTTP.get(status).body() + "\nsource log:\n" + source.log()
          + "\ndestination log:\n" + destination.log(), e);
    }
    network.limitRate("unlimited");
    source.start();
    JsonObject settled = await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
        .until(() -> HTTP.get(status).json().getJsonObject("sourceSettled"), Objects::nonNull);
    System.out.println("source agent back after a kill -9 during post-copy (" + finished.getString("state") + "): "
        + settled.encode());
    String logs = settled.encode() + "\nsource log:\n" + source.log() + "\ndestination log:\n" + destination.log();
    if ("DONE".equals(finished.getString("state"))) {
      // the last page arrived before the kill: the destination keeps it, the source copy must not run
      assertThat(settled.getString("outcome")).as(logs).isIn("killed", "nothing held");
      MemServiceClient.Answer moved = MemServiceClient.verify(destination.node.address(), SERVICE_PORT, 5000);
      assertThat(moved.checksum()).isEqualTo(before.checksum());
      assertThat(names(source)).doesNotContain("lost");
      return;
    }
    assertThat(finished.getJsonObject("error").getString("message")).contains("did not restore",
        "to resume a copy it holds stopped");
    assertThat(names(destination)).as("the destination fenced its copy").doesNotContain("lost");
    assertThat(settled.getString("outcome")).as(logs).isEqualTo("resumed");
    MemServiceClient.Answer after = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(source.node.address(), SERVICE_PORT, 5000), any -> true);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    assertThat(names(source)).contains("lost");
    assertThat(names(destination)).doesNotContain("lost");
  }

  private static String agentMigrationOf(String status) {
    return await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
        .until(() -> HTTP.get(status).json().getJsonArray("events").stream().map(JsonObject.class::cast)
            .map(e -> e.getString("agentMigrationId")).filter(Objects::nonNull).findFirst().orElse(null),
            Objects::nonNull);
  }

  private MemServiceClient.Answer launchMemService(AgentNode agent) {
    return bed.launchMemService(agent, "lost", SERVICE_PORT, MEMORY_MIB);
  }

  /** Starts the migration and waits until 16 MiB of pages left the source; answers its status URL. */
  private String startMigrationAndWaitForPages(AgentNode source) {
    Answer accepted = HTTP.post(coordinator.url() + "/migrations",
        new JsonObject().put("name", "lost").put("destinationUrl", coordinator.url()));
    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
    String status = coordinator.url() + "/migrations/" + accepted.json().getString("migrationId");
    String agentMigration = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
        .until(() -> HTTP.get(status).json().getJsonArray("events").stream().map(JsonObject.class::cast)
            .map(e -> e.getString("agentMigrationId")).filter(Objects::nonNull).findFirst().orElse(null),
            Objects::nonNull);
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> HTTP.get(source.url() + "/v1/migrations/" + agentMigration).json()
            .getJsonObject("bytes").getLong("pages"), pages -> pages >= 16L << 20);
    return status;
  }

  private static List<String> names(AgentNode agent) {
    return LocalModeBed.names(agent);
  }
}
