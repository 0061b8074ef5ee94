package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.DestinationRequest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of a migration (POST /v1/reservations and friends): picks a destination
 * node, creates the object that will host the workload (a pod in Kubernetes), opens a receive
 * session on that node's agent, and hands back {node, dataAddress, sessionId, token}.
 */
public final class ReservationService {
  private static final Logger LOG = LoggerFactory.getLogger(ReservationService.class);

  private record Reservation(
      String id, DestinationRequest request, AgentRef agent, String sessionId, Optional<String> destinationObject) {}

  private final Vertx vertx;
  private final Cluster cluster;
  private final ClusterDescriber describer;
  private final Duration checkInterval;
  private final Map<String, Reservation> reservations = new HashMap<>();

  /**
   * @param checkInterval how often an open reservation is checked against its agent session, so that
   *     one whose source coordinator died is settled (kept if restored, removed otherwise)
   */
  public ReservationService(Vertx vertx, Cluster cluster, ClusterDescriber describer, Duration checkInterval) {
    this.vertx = vertx;
    this.cluster = cluster;
    this.describer = describer;
    this.checkInterval = checkInterval;
  }

  public Future<JsonObject> reserve(JsonObject body) {
    DestinationRequest request;
    try {
      request = parse(body);
    } catch (MigrationException e) {
      return Future.failedFuture(e);
    }
    long started = System.nanoTime();
    return pickNode(request)
        .compose(
            agent ->
                cluster
                    .createDestination(request, agent)
                    .compose(
                        object ->
                            openSession(request, agent, object)
                                .recover(
                                    failure ->
                                        object
                                            .map(name -> cluster.removeDestination(request.namespace(), name))
                                            .orElse(Future.succeededFuture())
                                            .transform(ignored -> Future.failedFuture(failure)))))
        .map(answer -> answer.put("creationMs", (System.nanoTime() - started) / 1_000_000));
  }

  private Future<JsonObject> openSession(DestinationRequest request, AgentRef agent, Optional<String> object) {
    return describer
        .agent(agent)
        .receive(request.workloadName(), request.kind())
        .map(
            session -> {
              String id = UUID.randomUUID().toString();
              String sessionId = session.getString("sessionId");
              reservations.put(id, new Reservation(id, request, agent, sessionId, object));
              watchOrphan(id);
              LOG.info(
                  "migration {}: reserved node {} for {}/{} (session {})",
                  request.migrationId(), agent.node(), request.namespace(), request.workloadName(), sessionId);
              JsonObject answer =
                  new JsonObject()
                      .put("reservationId", id)
                      .put("clusterId", describer.clusterId())
                      .put("node", agent.node())
                      .put("dataAddress", session.getString("dataAddress"))
                      .put("sessionId", sessionId)
                      .put("token", session.getString("token"))
                      .put("expiresAt", session.getValue("expiresAt"));
              object.ifPresent(name -> answer.put("destinationObject", name));
              return answer;
            });
  }

  private Future<AgentRef> pickNode(DestinationRequest request) {
    boolean sameCluster = describer.clusterId().equals(request.sourceClusterId());
    return cluster
        .agents()
        .compose(
            agents -> {
              List<AgentRef> candidates =
                  agents.stream()
                      .filter(a -> request.destinationNode().map(a.node()::equals).orElse(true))
                      .filter(
                          a ->
                              request.destinationNode().isPresent()
                                  || !(sameCluster && a.node().equals(request.sourceNode())))
                      .toList();
              if (candidates.isEmpty()) {
                String what =
                    request.destinationNode().map(n -> "no agent on node '" + n + "'")
                        .orElse("no node other than the source node " + request.sourceNode());
                return Future.failedFuture(
                    new MigrationException(Failure.NO_DESTINATION, "destination cluster has " + what));
              }
              List<Future<JsonObject>> infos = candidates.stream().map(describer::describeAgent).toList();
              return Future.join(infos).map(done -> firstFit(candidates, infos, request));
            });
  }

  private static AgentRef firstFit(List<AgentRef> candidates, List<Future<JsonObject>> infos, DestinationRequest request) {
    List<String> reasons = new ArrayList<>();
    for (int i = 0; i < candidates.size(); i++) {
      String why = Compatibility.unfit(infos.get(i).result(), request.arch());
      if (why == null) {
        return candidates.get(i);
      }
      reasons.add(candidates.get(i).node() + ": " + why);
    }
    throw new MigrationException(
        Failure.INCOMPATIBLE_DESTINATION, "no destination node fits (" + String.join("; ", reasons) + ")");
  }

  /**
   * A reservation the source coordinator neither commits nor releases (it died, or lost us) would
   * keep a destination pod and a session forever. Each interval the destination agent's session
   * says what happened: restored (DONE) settles it as committed; rolled back, gone, or still
   * waiting for a source after a whole interval releases it; in flight waits another interval.
   */
  private void watchOrphan(String id) {
    vertx.setTimer(checkInterval.toMillis(), timer -> {
      Reservation reservation = reservations.get(id);
      if (reservation == null) {
        return;
      }
      describer.agent(reservation.agent()).migration(reservation.sessionId())
          .map(status -> status.getString("phase", ""))
          .otherwise(gone -> "GONE")
          .onSuccess(phase -> {
            if (!reservations.containsKey(id)) {
              return;
            }
            switch (phase) {
              case "DONE" -> {
                LOG.warn("migration {}: nobody committed the restored destination; keeping it",
                    reservation.request().migrationId());
                commit(id);
              }
              case "TRANSFERRING", "RESTORING", "CHECKPOINTING" -> watchOrphan(id);
              default -> {
                LOG.warn("migration {}: destination session {} is {} and nobody settled it; releasing",
                    reservation.request().migrationId(), reservation.sessionId(), phase);
                release(id);
              }
            }
          });
    });
  }

  /** The migration succeeded: the reservation is spent, the destination object stays. */
  public Future<JsonObject> commit(String id) {
    Reservation reservation = reservations.remove(id);
    if (reservation == null) {
      return Future.failedFuture(new MigrationException(Failure.NOT_FOUND, "no reservation " + id));
    }
    LOG.info("migration {}: destination committed on {}", reservation.request().migrationId(), reservation.agent().node());
    JsonObject answer = new JsonObject().put("node", reservation.agent().node());
    reservation.destinationObject().ifPresent(name -> answer.put("destinationObject", name));
    return Future.succeededFuture(answer);
  }

  /** The migration failed: abort the receive session (best effort) and remove the destination object. */
  public Future<Void> release(String id) {
    Reservation reservation = reservations.remove(id);
    if (reservation == null) {
      return Future.failedFuture(new MigrationException(Failure.NOT_FOUND, "no reservation " + id));
    }
    LOG.info("migration {}: releasing destination on {}", reservation.request().migrationId(), reservation.agent().node());
    Future<Void> aborted =
        describer
            .agent(reservation.agent())
            .abort(reservation.sessionId())
            .<Void>mapEmpty()
            .otherwise(failure -> null); // the session may already be gone: that is the goal
    return aborted.compose(
        done ->
            reservation
                .destinationObject()
                .map(name -> cluster.removeDestination(reservation.request().namespace(), name))
                .orElse(Future.succeededFuture()));
  }

  static DestinationRequest parse(JsonObject body) {
    if (body == null) {
      throw MigrationException.badField("body", "expected a JSON object");
    }
    String kind = text(body, "kind", true);
    if (!kind.equals("process") && !kind.equals("container")) {
      throw MigrationException.badField("kind", "must be process or container");
    }
    Object pod = body.getValue("pod");
    if (pod != null && !(pod instanceof JsonObject)) {
      throw MigrationException.badField("pod", "must be a JSON object (a pod manifest)");
    }
    return new DestinationRequest(
        text(body, "migrationId", true),
        text(body, "workloadName", true),
        Optional.ofNullable(text(body, "namespace", false)).orElse(MigrationRequest.DEFAULT_NAMESPACE),
        kind,
        text(body, "sourceClusterId", false),
        text(body, "sourceNode", false),
        text(body, "arch", false),
        Optional.ofNullable(text(body, "destinationNode", false)),
        Optional.ofNullable((JsonObject) pod));
  }

  private static String text(JsonObject body, String field, boolean required) {
    Object value = body.getValue(field);
    if (value == null) {
      if (required) {
        throw MigrationException.badField(field, "is required");
      }
      return null;
    }
    if (!(value instanceof String s) || s.isBlank()) {
      throw MigrationException.badField(field, "must be a non-empty string");
    }
    return s;
  }

  /** The body the source coordinator sends. */
  public static JsonObject requestBody(DestinationRequest request) {
    JsonObject body =
        new JsonObject()
            .put("migrationId", request.migrationId())
            .put("workloadName", request.workloadName())
            .put("namespace", request.namespace())
            .put("kind", request.kind())
            .put("sourceClusterId", request.sourceClusterId())
            .put("sourceNode", request.sourceNode())
            .put("arch", request.arch());
    request.destinationNode().ifPresent(n -> body.put("destinationNode", n));
    request.podTemplate().ifPresent(p -> body.put("pod", p));
    return body;
  }
}
