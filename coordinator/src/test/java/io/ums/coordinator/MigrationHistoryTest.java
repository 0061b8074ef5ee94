package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.EventType;
import io.ums.coordinator.migration.Migration;
import io.ums.coordinator.migration.MigrationRequest;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The coordinator forgets finished migrations beyond a count and after a time, so its memory does not grow
 * with the requests it served (issue 15: RSS 111 to 235 MiB after 2,200). Agents are {@link FakeAgent}s.
 */
class MigrationHistoryTest {
  private Vertx vertx;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private Coordinator coordinator;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
  }

  @AfterEach
  void stop() {
    if (coordinator != null) {
      coordinator.close().await();
    }
    nodeA.close();
    nodeB.close();
    vertx.close().await();
  }

  private void startCoordinator(int kept, Duration ttl) {
    List<AgentRef> refs = List.of(new AgentRef("node-a", nodeA.url()), new AgentRef("node-b", nodeB.url()));
    coordinator = Coordinator.start(vertx, "127.0.0.1", 0, http -> new LocalCluster(refs, http),
        new MigrationSettings(Duration.ofMillis(10), Duration.ofSeconds(10)).withHistory(kept, ttl)).await();
  }

  private String migrate(String name) {
    Answer answer = Http.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", name).put("destinationUrl", coordinator.url()));
    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    return answer.json().getString("migrationId");
  }

  @Test
  void onlyTheLastFinishedMigrationsAreKept() {
    startCoordinator(3, Duration.ofHours(1));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodeA.addWorkload("w" + i);
      ids.add(migrate("w" + i));
    }

    List<String> listed = Http.get(coordinator.url() + "/migrations").json().getJsonArray("migrations").stream()
        .map(m -> ((JsonObject) m).getString("migrationId")).toList();

    assertThat(listed).containsExactlyElementsOf(ids.subList(3, 6));
    assertThat(Http.get(coordinator.url() + "/migrations/" + ids.get(0)).status()).isEqualTo(404);
    assertThat(Http.get(coordinator.url() + "/migrations/" + ids.get(5)).status()).isEqualTo(200);
    assertThat(Http.get(coordinator.url() + "/frontman/default/w0").status()).as("forgotten").isEqualTo(404);
  }

  @Test
  void finishedMigrationsAreForgottenAfterTheirTime() {
    startCoordinator(100, Duration.ofMillis(200));
    nodeA.addWorkload("w");
    String id = migrate("w");

    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .until(() -> Http.get(coordinator.url() + "/migrations/" + id).status() == 404);
    assertThat(Http.get(coordinator.url() + "/migrations").json().getJsonArray("migrations")).isEmpty();
  }

  @Test
  void progressEventsDoNotPileUpInTheRecord() {
    Migration migration = new Migration("m", MigrationRequest.fromJson(new JsonObject().put("name", "w")
        .put("destinationUrl", "http://127.0.0.1:1")), 0L);
    List<JsonObject> seen = new ArrayList<>();
    migration.subscribe(seen::add);

    migration.emit(EventType.CHECKPOINTING, new JsonObject());
    for (int i = 0; i < 1000; i++) {
      migration.emit(EventType.TRANSFERRING, new JsonObject().put("progress", true).put("i", i));
    }
    migration.emit(EventType.RESTORING, new JsonObject());

    assertThat(seen).as("subscribers get every event").hasSize(1002);
    assertThat(migration.toJson().getJsonArray("events").stream().map(e -> ((JsonObject) e).getInteger("i")))
        .containsExactly(null, 999, null);
    assertThat(Optional.ofNullable(migration.toJson().getString("state"))).contains("RESTORING");
  }
}
