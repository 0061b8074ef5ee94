package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's HTTP API and migration state machine in local mode. The agents here are
 * {@link FakeAgent}s: stand-ins implementing the agent control contract, so these tests check the
 * coordinator's own logic (status codes, events, rollback, reservations) quickly and
 * deterministically. Real agents, CRIU and netns are exercised by CoordinatorEndToEndTest.
 */
class CoordinatorApiTest extends FakeAgentPairTest {
  @BeforeEach
  void start() {
    nodeA.addWorkload("memsvc");
    coordinator = startCoordinator(List.of(nodeA, nodeB), Duration.ofSeconds(10));
  }

  private Coordinator startCoordinator(List<FakeAgent> agents, Duration phaseTimeout) {
    List<AgentRef> refs = agents.stream().map(a -> new AgentRef(a.node(), a.url())).toList();
    return Coordinator.start(vertx, "127.0.0.1", 0, http -> new LocalCluster(refs, http),
        new MigrationSettings(Duration.ofMillis(10), phaseTimeout)).await();
  }

  private JsonObject request(String name) {
    return new JsonObject().put("name", name).put("destinationUrl", coordinator.url());
  }

  @Test
  void migrateAnswersTheOverheadAndMovesTheWorkload() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    JsonObject body = answer.json();
    assertThat(body.getString("migrationId")).isNotBlank();
    assertThat(body.getString("interface")).isEqualTo("ff");
    assertThat(body.getJsonObject("destination").getString("node")).isEqualTo("node-b");
    assertThat(body.getJsonObject("destination").getString("clusterId")).isEqualTo(coordinator.clusterId());
    assertThat(body.getJsonObject("overhead").fieldNames())
        .contains("creation", "checkpoint", "transfer", "restore", "total", "downtime");
    assertThat(body.getJsonObject("overhead").getLong("restore")).isEqualTo(25L);
    assertThat(body.getJsonObject("bytes").getLong("raw")).isEqualTo(64L << 20);
    assertThat(nodeA.workloadNames()).doesNotContain("memsvc");
    assertThat(nodeB.workloadNames()).containsExactly("memsvc");
  }

  @Test
  void theDestinationAgentIsAskedForATlsOnlySessionWhenThisClusterEncrypts() {
    Answer clear = Http.post(coordinator.url() + "/migrate", request("memsvc"));
    assertThat(clear.status()).as(clear.body()).isEqualTo(200);
    assertThat(nodeB.sessions().values()).extracting(session -> session.getBoolean("encrypt")).containsOnly(false);
    coordinator.close().await();
    nodeA.addWorkload("other");
    List<AgentRef> refs = List.of(new AgentRef(nodeA.node(), nodeA.url()), new AgentRef(nodeB.node(), nodeB.url()));
    coordinator = Coordinator.start(vertx, "127.0.0.1", 0, http -> new LocalCluster(refs, http),
        new MigrationSettings(Duration.ofMillis(10), Duration.ofSeconds(10)).withEncryptInCluster(true)).await();

    Answer encrypted = Http.post(coordinator.url() + "/migrate", request("other"));

    assertThat(encrypted.status()).as(encrypted.body()).isEqualTo(200);
    assertThat(nodeB.sessions().values()).filteredOn(session -> "other".equals(session.getString("workloadName")))
        .extracting(session -> session.getBoolean("encrypt")).containsExactly(true);
  }

  @Test
  void keepAcceptsBooleansAndStringsAndFalseMeansFalse() {
    Answer kept = Http.post(coordinator.url() + "/migrate", request("memsvc").put("keep", "true"));
    assertThat(kept.status()).as(kept.body()).isEqualTo(200);
    assertThat(nodeA.workloadNames()).containsExactly("memsvc");

    // the copy on node-b has the same name: pin the source back onto node-a's copy by sending node-b's back
    Answer moved = Http.post(coordinator.url() + "/migrate",
        request("memsvc").put("keep", "false").put("destinationNode", "node-b"));
    assertThat(moved.status()).as(moved.body()).isEqualTo(200);
    assertThat(moved.json().getBoolean("keep")).isFalse();
    assertThat(nodeA.workloadNames()).isEmpty();
  }

  @Test
  void badBodiesAreRefusedWithTheFieldNamed() {
    assertBadRequest("{not json", "body");
    assertBadRequest("[1,2]", "body");
    assertBadRequest(new JsonObject().put("destinationUrl", coordinator.url()).encode(), "name");
    assertBadRequest(new JsonObject().put("name", "memsvc").encode(), "destinationUrl");
    assertBadRequest(request("memsvc").put("destinationUrl", "ftp://x").encode(), "destinationUrl");
    assertBadRequest(request("memsvc").put("keep", "maybe").encode(), "keep");
    assertBadRequest(request("memsvc").put("keep", 1).encode(), "keep");
    assertBadRequest(request("memsvc").put("interface", "teleport").encode(), "interface");
    assertBadRequest(request("memsvc").put("interface", "runc").encode(), "interface");
    assertBadRequest(request("memsvc").put("redirect", "not a url").encode(), "redirect");
    assertBadRequest(request("memsvc").put("mode", "pre-copy").encode(), "mode");
    assertBadRequest(request("memsvc").put("mode", "post-copy").put("keep", true).encode(), "mode");
    assertBadRequest(request("mem\u0000svc").encode(), "name");
    assertBadRequest(request("memsvc").put("namespace", "default\u0000").encode(), "namespace");
    assertBadRequest(request("memsvc").put("destinationNode", "node-b\u0000x").encode(), "destinationNode");
    assertBadRequest(request("memsvc").put("destinationUrl", coordinator.url() + "/\u0000").encode(), "destinationUrl");
    Answer list = Http.get(coordinator.url() + "/list?namespace=de%00fault");
    assertThat(list.status()).as(list.body()).isEqualTo(400);
    assertThat(list.json().getString("message")).startsWith("namespace:").contains("NUL");
  }

  private void assertBadRequest(String body, String field) {
    Answer answer = Http.post(coordinator.url() + "/migrate", body);
    assertThat(answer.status()).as(body + " -> " + answer.body()).isEqualTo(400);
    assertThat(answer.json().getString("error")).isEqualTo("BAD_REQUEST");
    assertThat(answer.json().getString("message")).startsWith(field + ":");
    assertThat(answer.body()).doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Test
  void unknownWorkloadIs404() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request("nope"));
    assertThat(answer.status()).isEqualTo(404);
    assertThat(answer.json().getString("error")).isEqualTo("UNKNOWN_WORKLOAD");
    assertThat(answer.json().getString("message")).contains("nope");
  }

  @Test
  void aSecondMigrationOfTheSameWorkloadIs409() throws Exception {
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    CompletableFuture<Answer> first =
        CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", request("memsvc")));
    await().atMost(Duration.ofSeconds(10)).until(() -> !nodeB.sessions().isEmpty());

    Answer second = Http.post(coordinator.url() + "/migrate", request("memsvc"));
    assertThat(second.status()).as(second.body()).isEqualTo(409);
    assertThat(second.json().getString("error")).isEqualTo("ALREADY_MIGRATING");

    nodeA.release();
    assertThat(first.get().status()).isEqualTo(200);
  }

  @Test
  void anUnknownNamespaceIs404AndMovesNothing() {
    Answer migrate = Http.post(coordinator.url() + "/migrate", request("memsvc").put("namespace", "nope"));
    Answer list = Http.get(coordinator.url() + "/list?namespace=nope");

    assertThat(migrate.status()).as(migrate.body()).isEqualTo(404);
    assertThat(migrate.json().getString("error")).isEqualTo("UNKNOWN_WORKLOAD");
    assertThat(migrate.json().getString("message")).contains("namespace 'nope'", "default");
    assertThat(list.status()).as(list.body()).isEqualTo(404);
    assertThat(nodeA.workloadNames()).containsExactly("memsvc");
    assertThat(nodeB.sessions()).isEmpty();
    Answer explicit = Http.post(coordinator.url() + "/migrate", request("memsvc").put("namespace", "default"));
    assertThat(explicit.status()).as(explicit.body()).isEqualTo(200);
  }

  @Test
  void theLockHoldsWhateverTheWorkloadIsCalledBy() throws Exception {
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    String id = nodeA.workloadId("memsvc");
    CompletableFuture<Answer> first =
        CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", request("memsvc")));
    await().atMost(Duration.ofSeconds(10)).until(() -> !nodeB.sessions().isEmpty());
    nodeA.markRunning("memsvc"); // only the coordinator's own lock is left to refuse

    Answer byNamespace = Http.post(coordinator.url() + "/migrate", request("memsvc").put("namespace", "default"));
    Answer byId = Http.post(coordinator.url() + "/migrate", request(id));

    assertThat(byNamespace.status()).as(byNamespace.body()).isEqualTo(409);
    assertThat(byNamespace.json().getString("error")).isEqualTo("ALREADY_MIGRATING");
    assertThat(byId.status()).as(byId.body()).isEqualTo(409);
    nodeA.release();
    assertThat(first.get().status()).isEqualTo(200);
  }

  @Test
  void migratingToTheNodeItRunsOnIs409BeforeAnythingMoves() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc").put("destinationNode", "node-a"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(409);
    assertThat(answer.json().getString("message")).contains("node-a", "already runs");
    assertThat(nodeA.sessions()).as("no receive session").isEmpty();
    assertThat(nodeA.workloadNames()).containsExactly("memsvc");
    assertThat(Http.get(coordinator.url() + "/list").json().getJsonArray("workloads").getJsonObject(0)
        .getBoolean("migratable")).as("unlocked").isTrue();
  }

  @Test
  void aSourceAgentThatRestartedAfterTheRestoreIsReportedDoneAsTheDestinationSays() {
    nodeA.script(FakeAgent.Script.RESTART_AFTER_RESTORE);

    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    assertThat(answer.json().getJsonObject("destination").getString("node")).isEqualTo("node-b");
    assertThat(answer.json().getJsonArray("warnings").getString(0))
        .contains("lost the source agent on node node-a", "does not know migration", "restored");
    assertThat(nodeB.workloadNames()).containsExactly("memsvc");
  }

  @Test
  void aSourceAgentThatRestartedMidTransferIs502StatingWhereTheWorkloadRuns() {
    nodeA.script(FakeAgent.Script.RESTART_IN_TRANSFER);

    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(answer.json().getString("message")).contains("lost the source agent on node node-a",
        "did not restore default/memsvc", "nothing runs there", "lists default/memsvc as RUNNING");
    String session = nodeB.sessions().keySet().iterator().next();
    assertThat(nodeB.abortedIds()).as("the destination released").containsExactly(session);
    assertThat(Http.get(coordinator.url() + "/list").json().getJsonArray("workloads").getJsonObject(0)
        .getBoolean("migratable")).as("unlocked").isTrue();
  }

  @Test
  void anAgentRollbackIs502WithItsReasonAndReleasesEverything() {
    nodeA.script(FakeAgent.Script.ROLL_BACK);
    nodeA.rollBackMessage("restore failed: image pages-1.img missing");

    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(answer.json().getString("message")).contains("image pages-1.img missing");
    String session = nodeB.sessions().keySet().iterator().next();
    assertThat(nodeB.abortedIds()).containsExactly(session);
    nodeA.script(FakeAgent.Script.SUCCEED);
    assertThat(Http.post(coordinator.url() + "/migrate", request("memsvc")).status())
        .as("the lock was released").isEqualTo(200);
  }

  @Test
  void aPhaseWithoutProgressTimesOutWith504AndAbortsTheSource() {
    coordinator.close().await();
    coordinator = startCoordinator(List.of(nodeA, nodeB), Duration.ofMillis(300));
    nodeA.script(FakeAgent.Script.HANG_IN_TRANSFER);

    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(504);
    assertThat(answer.json().getString("message")).contains("TRANSFERRING");
    assertThat(nodeA.abortedIds()).hasSize(1);
    assertThat(nodeB.abortedIds()).hasSize(1);
  }

  @Test
  void eventsStreamEveryPhaseInOrder() {
    Answer accepted = Http.post(coordinator.url() + "/migrations", request("memsvc"));
    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
    String id = accepted.json().getString("migrationId");

    List<String> types = Http.events(coordinator.url() + "/migrations/" + id + "/events").stream()
        .map(e -> e.getString("type")).distinct().toList();

    assertThat(types).containsExactly("RESERVED", "CHECKPOINTING", "TRANSFERRING", "RESTORING", "DONE");
    JsonObject status = Http.get(coordinator.url() + "/migrations/" + id).json();
    assertThat(status.getString("state")).isEqualTo("DONE");
    assertThat(status.getJsonObject("result").getString("migrationId")).isEqualTo(id);
    assertThat(Http.get(coordinator.url() + "/migrations/nope").status()).isEqualTo(404);
  }

  @Test
  void rolledBackEventCarriesTheReason() {
    nodeA.script(FakeAgent.Script.ROLL_BACK);
    String id = Http.post(coordinator.url() + "/migrations", request("memsvc")).json().getString("migrationId");

    List<JsonObject> events = Http.events(coordinator.url() + "/migrations/" + id + "/events");

    JsonObject last = events.get(events.size() - 1);
    assertThat(last.getString("type")).isEqualTo("ROLLED_BACK");
    assertThat(last.getString("reason")).contains("criu restore failed");
  }

  @Test
  void demoStreamsTheMigrationFromQueryParameters() {
    List<JsonObject> events = Http.events(coordinator.url() + "/demo?name=memsvc&keep=false&destinationUrl="
        + java.net.URLEncoder.encode(coordinator.url(), java.nio.charset.StandardCharsets.UTF_8));
    assertThat(events.get(events.size() - 1).getString("type")).isEqualTo("DONE");
    assertThat(Http.get(coordinator.url() + "/demo?name=memsvc").status()).isEqualTo(400);
  }

  @Test
  void describesTheClusterAndListsWorkloads() {
    JsonObject description = Http.get(coordinator.url() + "/").json();
    assertThat(description.getString("mode")).isEqualTo("local");
    assertThat(description.getString("arch")).isEqualTo("x86_64");
    assertThat(description.getJsonObject("criu").getString("version")).isEqualTo("4.2.1");
    assertThat(description.getJsonArray("agents")).hasSize(2);

    assertThat(Http.get(coordinator.url() + "/healthcheck").json().getString("status")).isEqualTo("UP");
    JsonObject list = Http.get(coordinator.url() + "/list").json();
    JsonObject row = list.getJsonArray("workloads").getJsonObject(0);
    assertThat(row.getString("name")).isEqualTo("memsvc");
    assertThat(row.getString("node")).isEqualTo("node-a");
    assertThat(row.getBoolean("migratable")).isTrue();
    assertThat(row.getString("status")).isEqualTo("RUNNING");
    Answer unknown = Http.get(coordinator.url() + "/nothing-here");
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.json().getString("error")).isEqualTo("NOT_FOUND");
  }

  @Test
  void frontmanAnswers425WhileMigratingThen301() {
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    String id = Http.post(coordinator.url() + "/migrations",
        request("memsvc").put("redirect", "http://new.example/")).json().getString("migrationId");
    String frontman = coordinator.url() + "/frontman/default/memsvc";

    assertThat(Http.get(frontman).status()).isEqualTo(425);
    nodeA.release();
    await().atMost(Duration.ofSeconds(10))
        .until(() -> "DONE".equals(Http.get(coordinator.url() + "/migrations/" + id).json().getString("state")));
    Answer moved = Http.get(frontman);
    assertThat(moved.status()).isEqualTo(301);
    assertThat(moved.headers().firstValue("Location")).hasValue("http://new.example");
  }

  @Test
  void crossClusterMigrationReservesOnTheDestinationCoordinator() {
    FakeAgent remote = FakeAgent.start(vertx, "remote-1");
    Coordinator destination = startCoordinator(List.of(remote), Duration.ofSeconds(10));
    try {
      Answer answer = Http.post(coordinator.url() + "/migrate",
          request("memsvc").put("destinationUrl", destination.url()));

      assertThat(answer.status()).as(answer.body()).isEqualTo(200);
      assertThat(answer.json().getJsonObject("destination").getString("clusterId")).isEqualTo(destination.clusterId());
      assertThat(answer.json().getJsonObject("destination").getString("node")).isEqualTo("remote-1");
      assertThat(remote.workloadNames()).containsExactly("memsvc");
      assertThat(nodeB.sessions()).isEmpty();
    } finally {
      destination.close().await();
      remote.close();
    }
  }

  @Test
  void anIncompatibleDestinationIs409() {
    FakeAgent arm = FakeAgent.start(vertx, "arm-1", "aarch64");
    Coordinator destination = startCoordinator(List.of(arm), Duration.ofSeconds(10));
    try {
      Answer answer = Http.post(coordinator.url() + "/migrate",
          request("memsvc").put("destinationUrl", destination.url()));

      assertThat(answer.status()).as(answer.body()).isEqualTo(409);
      assertThat(answer.json().getString("error")).isEqualTo("INCOMPATIBLE_DESTINATION");
      assertThat(answer.json().getString("message")).contains("aarch64");
      assertThat(arm.sessions()).isEmpty();
      assertThat(nodeA.workloadNames()).containsExactly("memsvc");
    } finally {
      destination.close().await();
      arm.close();
    }
  }

  @Test
  void aReservationNobodySettlesIsReleasedAfterAPhaseTimeout() {
    coordinator.close().await();
    coordinator = startCoordinator(List.of(nodeA, nodeB), Duration.ofMillis(300));
    JsonObject reservation = new JsonObject().put("migrationId", "m-orphan").put("workloadName", "memsvc")
        .put("kind", "process").put("sourceClusterId", "a-dead-coordinator").put("sourceNode", "node-a")
        .put("destinationNode", "node-b");

    Answer reserved = Http.post(coordinator.url() + "/v1/reservations", reservation);

    assertThat(reserved.status()).as(reserved.body()).isEqualTo(201);
    String session = reserved.json().getString("sessionId");
    await().atMost(Duration.ofSeconds(10)).until(() -> nodeB.abortedIds().contains(session));
    Answer late = Http.delete(coordinator.url() + "/v1/reservations/" + reserved.json().getString("reservationId"));
    assertThat(late.status()).as("already released").isEqualTo(404);
    Answer badKind = Http.post(coordinator.url() + "/v1/reservations", reservation.copy().put("kind", "vm"));
    assertThat(badKind.status()).isEqualTo(400);
    assertThat(badKind.json().getString("message")).startsWith("kind:");
  }

  @Test
  void anUnreachableDestinationCoordinatorIs502() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request("memsvc").put("destinationUrl", "http://127.0.0.1:1"));
    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(answer.json().getString("message")).contains("destination coordinator");
    assertThat(Http.post(coordinator.url() + "/migrate", request("memsvc")).status())
        .as("the lock was released").isEqualTo(200);
  }
}
