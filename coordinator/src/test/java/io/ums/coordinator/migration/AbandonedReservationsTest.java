package io.ums.coordinator.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.DestinationRequest;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.AbandonedReservations.Verdict;
import io.ums.coordinator.peer.PeerClient;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The destination settles a reservation its source coordinator abandoned, and only that one: one
 * whose source coordinator is slow (a loaded machine) but still working must survive. The
 * verdicts run against an explicit clock; the service test drives a {@link ReservationService}
 * over {@link FakeAgent}s (node-a sends, node-b receives) and waits for conditions only.
 */
class AbandonedReservationsTest {
  private static final Duration PHASE_TIMEOUT = Duration.ofMillis(500);
  private static final long T = PHASE_TIMEOUT.toNanos();

  private Vertx vertx;
  private Context loop;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private ReservationService reservations;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    loop = vertx.getOrCreateContext();
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
    PeerClient http = new PeerClient(WebClient.create(vertx), Duration.ofSeconds(10));
    LocalCluster cluster = new LocalCluster(List.of(new AgentRef("node-a", nodeA.url()),
        new AgentRef("node-b", nodeB.url())), http);
    reservations = new ReservationService(vertx, cluster, new ClusterDescriber("destination", cluster, http),
        new MigrationSettings(Duration.ofMillis(10), PHASE_TIMEOUT));
  }

  @AfterEach
  void stop() {
    nodeA.close();
    nodeB.close();
    vertx.close().await();
  }

  /** The service lives on one event loop, as in the coordinator. */
  private <T> T onLoop(Supplier<Future<T>> call) throws Exception {
    return Future.<T>future(promise -> loop.runOnContext(v -> call.get().onComplete(promise)))
        .toCompletionStage().toCompletableFuture().get();
  }

  private JsonObject reserve(String migrationId) throws Exception {
    return onLoop(() -> reservations.reserve(new JsonObject().put("migrationId", migrationId)
        .put("workloadName", "memsvc").put("kind", "process").put("sourceClusterId", "source")
        .put("sourceNode", "node-a").put("destinationNode", "node-b")));
  }

  /** As MigrationRun does while it holds a reservation: tells the destination it still works on it. */
  private long heartbeat(JsonObject reserved) throws Exception {
    return onLoop(() -> Future.succeededFuture(vertx.setPeriodic(50,
        timer -> reservations.state(reserved.getString("reservationId")))));
  }

  /** node-a's agent moves memsvc into the reserved session, as the source agent would; waits until DONE. */
  private void agentsMove(String workloadId, JsonObject reserved) {
    String agentMigration = Http.post(nodeA.url() + "/v1/send", new JsonObject().put("workloadId", workloadId)
        .put("destination", new JsonObject().put("address", reserved.getString("dataAddress"))
            .put("sessionId", reserved.getString("sessionId")).put("token", reserved.getString("token"))))
        .json().getString("migrationId");
    await().atMost(Duration.ofSeconds(10)).until(() ->
        "DONE".equals(Http.get(nodeA.url() + "/v1/migrations/" + agentMigration).json().getString("phase")));
  }

  /**
   * RecoveryTest at load 18: the source coordinator took longer than a phase timeout between
   * reserving and committing, and the destination, looking once per phase timeout, released the
   * reservation as abandoned; the commit got 404. A source coordinator that keeps asking is alive.
   */
  @Test
  void aReservationItsSourceCoordinatorStillWorksOnOutlivesManyPhaseTimeouts() throws Exception {
    String workloadId = nodeA.addWorkload("memsvc").getString("id");
    JsonObject reserved = reserve("m-busy");
    long heartbeat = heartbeat(reserved);

    await("held while its source coordinator works on it").during(PHASE_TIMEOUT.multipliedBy(3)).atMost(Duration.ofSeconds(10))
        .until(() -> onLoop(() -> Future.succeededFuture(reservations.holds("m-busy"))));
    agentsMove(workloadId, reserved);
    JsonObject committed = onLoop(() -> reservations.commit(reserved.getString("reservationId"), new JsonObject()));
    vertx.cancelTimer(heartbeat);

    assertThat(committed.getString("node")).isEqualTo("node-b");
    assertThat(nodeB.abortedIds()).isEmpty();
  }

  /**
   * The same flake's other face: the agents had restored the workload, the source coordinator was
   * still recording its steps, and the destination settled the restored reservation on its own
   * before the commit came, which then got 404. The commit must find it committed.
   */
  @Test
  void aSourceCoordinatorThatCommitsAfterTheDestinationKeptTheRestoredWorkloadStillSucceeds() throws Exception {
    String workloadId = nodeA.addWorkload("memsvc").getString("id");
    JsonObject reserved = reserve("m-slow");
    long heartbeat = heartbeat(reserved);
    agentsMove(workloadId, reserved);
    vertx.cancelTimer(heartbeat);

    // the source coordinator is late: the destination settles the restored reservation meanwhile
    await().atMost(Duration.ofSeconds(10)).until(() -> !onLoop(() -> Future.succeededFuture(
        reservations.holds("m-slow"))));
    JsonObject committed = onLoop(() -> reservations.commit(reserved.getString("reservationId"), new JsonObject()));

    assertThat(committed.getString("node")).isEqualTo("node-b");
    assertThat(nodeB.workloadNames()).containsExactly("memsvc");
    assertThat(nodeB.abortedIds()).as("the restored session was never aborted").isEmpty();
  }

  private static Reservation reservation(String kind) {
    DestinationRequest request = new DestinationRequest("m-1", "web", "default", kind, "source", "node-a",
        "x86_64", Optional.of("node-b"), Optional.empty(), List.of(), MigrationRequest.STOP_AND_COPY);
    return new Reservation("r-1", request, new AgentRef("node-b", "http://127.0.0.1:1"),
        List.of(new Reservation.Session(null, "s-1")), Optional.empty());
  }

  private static Verdict look(Reservation reservation, long atNanos, String... phases) {
    return AbandonedReservations.verdict(reservation, List.of(phases), atNanos, PHASE_TIMEOUT);
  }

  @Test
  void aReservationTheAgentsKeepMovingIsNeverSettledHoweverLongItTakes() {
    Reservation reservation = reservation("process");
    long start = reservation.lastProgressNanos;

    assertThat(look(reservation, start + T / 2, "PREPARING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 2 * T, "TRANSFERRING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 4 * T, "TRANSFERRING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 6 * T, "RESTORING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 6 * T + T / 2, "DONE")).as("restored just now").isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 7 * T, "DONE")).as("less than a phase timeout since").isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 7 * T + T / 2, "DONE")).as("nobody came for a whole phase timeout")
        .isEqualTo(Verdict.COMMIT);
  }

  @Test
  void aReservationNobodyStartedIsReleasedAfterAWholePhaseTimeoutWithoutProgress() {
    Reservation reservation = reservation("process");
    long start = reservation.lastProgressNanos;

    assertThat(look(reservation, start + T / 4, "PREPARING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + T, "PREPARING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + T + T / 4, "GONE")).as("an agent that did not answer once").isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 2 * T + T / 2, "GONE")).isEqualTo(Verdict.RELEASE);
  }

  @Test
  void theSourceCoordinatorAskingAboutItCountsAsProgress() {
    Reservation reservation = reservation("process");
    long start = reservation.lastProgressNanos;
    look(reservation, start, "PREPARING");

    reservation.lastProgressNanos = start + 2 * T; // GET /v1/reservations/{id}, as ReservationService.state does

    assertThat(look(reservation, start + 2 * T + T / 2, "PREPARING")).isEqualTo(Verdict.WAIT);
    assertThat(look(reservation, start + 3 * T, "PREPARING")).isEqualTo(Verdict.RELEASE);
  }

  @Test
  void rolledBackSessionsAreReleasedAtOnceAndACommitInProgressIsNeverReleased() {
    Reservation rolledBack = reservation("process");
    assertThat(look(rolledBack, rolledBack.lastProgressNanos, "ROLLED_BACK")).isEqualTo(Verdict.RELEASE);

    Reservation committing = reservation(DestinationRequest.KIND_CHECKPOINT);
    committing.committing = true;
    long start = committing.lastProgressNanos;
    assertThat(look(committing, start + 5 * T, "DONE")).isEqualTo(Verdict.WAIT);
    committing.committing = false;
    assertThat(look(committing, start + 5 * T + T / 2, "DONE")).isEqualTo(Verdict.WAIT);
    assertThat(look(committing, start + 6 * T, "DONE")).as("checkpoint: the source containers still run")
        .isEqualTo(Verdict.RELEASE);
  }
}
