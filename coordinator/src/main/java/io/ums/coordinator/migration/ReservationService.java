package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.DestinationRequest;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of a migration (POST /v1/reservations and friends): picks a destination
 * node, creates the object that will host the workload (a pod in Kubernetes), opens a receive
 * session on that node's agent, and hands back {node, dataAddress, sessionId, token}.
 *
 * <p>Kind checkpoint (orchestrator level, the kubelet API) differs: one session per container,
 * and no pod at reservation time. The pod can only be written once the destination agent has
 * turned each kubelet archive into a checkpoint image, so the commit carries the images and the
 * commit creates the pod from them and waits until it is Running and Ready.
 */
public final class ReservationService {
  private static final Logger LOG = LoggerFactory.getLogger(ReservationService.class);
  private final Cluster cluster;
  private final ClusterDescriber describer;
  private final Duration checkInterval;
  private final MigrationSettings settings;
  private final Map<String, Reservation> reservations = new HashMap<>();
  private final AbandonedReservations abandoned;

  /**
   * @param checkInterval the phase timeout: an open reservation nobody worked on for that long is
   *     settled (kept if restored, removed otherwise, see {@link AbandonedReservations}); also the
   *     longest a kubelet-restored pod may take to become Ready
   */
  public ReservationService(Vertx vertx, Cluster cluster, ClusterDescriber describer, Duration checkInterval) {
    this(vertx, cluster, describer, new MigrationSettings(checkInterval, checkInterval));
  }

  /** As above, the check interval being the phase timeout; the settings also say when pages must be encrypted. */
  public ReservationService(Vertx vertx, Cluster cluster, ClusterDescriber describer, MigrationSettings settings) {
    this.cluster = cluster;
    this.describer = describer;
    this.checkInterval = settings.phaseTimeout();
    this.settings = settings;
    this.abandoned = new AbandonedReservations(vertx, describer, checkInterval, reservations::get, this::commit,
        this::release);
  }

  /** Whether an open reservation belongs to migration {@code migrationId} (of whichever source coordinator). */
  public boolean holds(String migrationId) {
    return reservations.values().stream().anyMatch(r -> r.migrationId().equals(migrationId));
  }

  public Future<JsonObject> reserve(JsonObject body) {
    DestinationRequest request;
    try {
      request = ReservationBodies.parse(body);
    } catch (MigrationException e) {
      return Future.failedFuture(e);
    }
    long started = System.nanoTime();
    // this cluster's wish, which its agent enforces; the source coordinator may still encrypt when this says no
    boolean encrypt = settings.encrypts(describer.clusterId().equals(request.sourceClusterId()));
    return pickNode(request)
        .compose(agent -> request.checkpoint() ? openCheckpointSessions(request, agent, encrypt)
            : createAndOpen(request, agent, encrypt))
        .map(answer -> answer.put("creationMs", (System.nanoTime() - started) / 1_000_000)
            .put("encrypt", encrypt)
            // the source coordinator asks about it more often than that while it works on it
            .put("abandonedAfterMs", checkInterval.toMillis()));
  }

  private Future<JsonObject> createAndOpen(DestinationRequest request, AgentRef agent, boolean encrypt) {
    return cluster
        .createDestination(request, agent)
        .compose(
            object ->
                describer.agent(agent).receive(request.workloadName(), request.kind(), request.mode(), encrypt)
                    .map(session -> {
                      Reservation reservation = register(request, agent,
                          List.of(new Reservation.Session(null, session.getString("sessionId"))), object);
                      JsonObject answer = answer(reservation).mergeIn(sessionJson(session));
                      object.ifPresent(name -> answer.put("destinationObject", name));
                      return answer;
                    })
                    .recover(
                        failure ->
                            object
                                .map(name -> cluster.removeDestination(request.namespace(), name))
                                .orElse(Future.succeededFuture())
                                .transform(ignored -> Future.failedFuture(failure))));
  }

  /** One receive session per container; if one cannot be opened, those that were are aborted. */
  private Future<JsonObject> openCheckpointSessions(DestinationRequest request, AgentRef agent, boolean encrypt) {
    List<Future<JsonObject>> opened = request.containers().stream()
        .map(container -> describer.agent(agent).receive(
            request.namespace() + "/" + request.workloadName() + "/" + container, request.kind(),
            MigrationRequest.STOP_AND_COPY, encrypt))
        .toList();
    return Future.join(opened).transform(all -> {
      if (all.failed()) {
        opened.stream().filter(Future::succeeded)
            .forEach(session -> describer.agent(agent).abort(session.result().getString("sessionId")));
        return Future.failedFuture(opened.stream().filter(Future::failed).findFirst().orElseThrow().cause());
      }
      List<Reservation.Session> sessions = new ArrayList<>();
      JsonArray sessionsJson = new JsonArray();
      for (int i = 0; i < opened.size(); i++) {
        JsonObject session = opened.get(i).result();
        String container = request.containers().get(i);
        sessions.add(new Reservation.Session(container, session.getString("sessionId")));
        sessionsJson.add(sessionJson(session).put("container", container));
      }
      Reservation reservation = register(request, agent, sessions, Optional.empty());
      return Future.succeededFuture(answer(reservation).put("sessions", sessionsJson));
    });
  }

  private Reservation register(
      DestinationRequest request, AgentRef agent, List<Reservation.Session> sessions, Optional<String> object) {
    Reservation reservation = new Reservation(UUID.randomUUID().toString(), request, agent, sessions, object);
    reservations.put(reservation.id, reservation);
    abandoned.watch(reservation.id);
    LOG.info("migration {}: reserved node {} for {}/{} (sessions {})", request.migrationId(), agent.node(),
        request.namespace(), request.workloadName(), sessions.stream().map(Reservation.Session::sessionId).toList());
    return reservation;
  }

  private JsonObject answer(Reservation reservation) {
    return new JsonObject()
        .put("reservationId", reservation.id)
        .put("clusterId", describer.clusterId())
        .put("node", reservation.agent.node());
  }

  private static JsonObject sessionJson(JsonObject session) {
    return new JsonObject()
        .put("dataAddress", session.getString("dataAddress"))
        .put("sessionId", session.getString("sessionId"))
        .put("token", session.getString("token"))
        .put("expiresAt", session.getValue("expiresAt"));
  }

  private Future<AgentRef> pickNode(DestinationRequest request) {
    boolean sameCluster = describer.clusterId().equals(request.sourceClusterId());
    if (sameCluster && request.destinationNode().filter(request.sourceNode()::equals).isPresent()) {
      return Future.failedFuture(new MigrationException(Failure.NO_DESTINATION, request.namespace() + "/"
          + request.workloadName() + " already runs on node " + request.sourceNode()
          + ": a migration there would stop it for nothing"));
    }
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
   * GET /v1/reservations/{id}: what the destination agent says of each receive session (phase, error),
   * for a source coordinator that lost its source agent and must learn whether the workload was restored
   * here. A session the agent does not answer for is UNKNOWN, with why.
   */
  public Future<JsonObject> state(String id) {
    Reservation reservation = reservations.get(id);
    if (reservation == null) {
      return Future.failedFuture(new MigrationException(Failure.NOT_FOUND, "no reservation " + id));
    }
    reservation.lastProgressNanos = System.nanoTime(); // its source coordinator is alive and settling it
    List<Future<JsonObject>> sessions = reservation.sessions.stream()
        .map(session -> describer.agent(reservation.agent).migration(session.sessionId())
            .map(status -> new JsonObject().put("sessionId", session.sessionId())
                .put("phase", status.getString("phase", "UNKNOWN")).put("error", status.getJsonObject("error"))
                .put("destinationWorkloadId", status.getString("destinationWorkloadId")))
            .otherwise(failure -> new JsonObject().put("sessionId", session.sessionId()).put("phase", "UNKNOWN")
                .put("error", new JsonObject().put("message", failure.getMessage()))))
        .toList();
    return Future.all(sessions).map(all -> new JsonObject().put("reservationId", id)
        .put("node", reservation.agent.node())
        .put("sessions", new JsonArray(sessions.stream().map(Future::result).toList())));
  }

  /**
   * The migration succeeded: the reservation is spent, the destination object stays. For kind
   * checkpoint the body names each container's checkpoint image ({"checkpointImages": {container:
   * image}}); the pod is created from them here, and the answer waits until it is Ready (at most
   * {"readyTimeoutMs"}, capped by this coordinator's phase timeout). A pod that does not get Ready is
   * removed and the commit fails (504 / 502); the reservation stays open for the source to release.
   */
  public Future<JsonObject> commit(String id, JsonObject body) {
    Reservation reservation = reservations.get(id);
    if (reservation == null) {
      return abandoned.committedHere(id).map(kept -> Future.succeededFuture(committed(kept)))
          .orElseGet(() -> Future.failedFuture(new MigrationException(Failure.NOT_FOUND, "no reservation " + id)));
    }
    if (reservation.committing) {
      return Future.failedFuture(new MigrationException(Failure.ALREADY_MIGRATING, "reservation " + id
          + " is being committed"));
    }
    if (!reservation.request.checkpoint()) {
      reservations.remove(id);
      LOG.info("migration {}: destination committed on {}", reservation.migrationId(), reservation.agent.node());
      return markCommitted(reservation, body).map(done -> committed(reservation));
    }
    Map<String, String> images;
    Duration readyTimeout;
    try {
      images = ReservationBodies.checkpointImages(body, reservation.request.containers());
      readyTimeout = readyTimeout(body);
    } catch (MigrationException e) {
      return Future.failedFuture(e);
    }
    reservation.committing = true;
    reservation.checkpointImages = List.copyOf(images.values());
    long started = System.nanoTime();
    return cluster.startRestoredPod(reservation.request, reservation.agent, images, readyTimeout)
        .eventually(() -> {
          reservation.committing = false;
          return Future.succeededFuture();
        })
        .compose(pod -> {
          if (reservations.get(id) != reservation) { // released while the pod was starting: nobody wants it
            return cluster.removeDestination(reservation.request.namespace(), pod).transform(ignored ->
                Future.failedFuture(new MigrationException(Failure.NOT_FOUND,
                    "reservation " + id + " was released while its pod " + pod + " started; pod removed")));
          }
          reservations.remove(id);
          reservation.destinationObject = Optional.of(pod);
          LOG.info("migration {}: pod {} restored from checkpoint images and Ready on {}",
              reservation.migrationId(), pod, reservation.agent.node());
          long podStartMs = (System.nanoTime() - started) / 1_000_000;
          retireCheckpointImages(reservation, images);
          return markCommitted(reservation, body)
              .map(done -> committed(reservation).put("podStartMs", podStartMs));
        });
  }

  /**
   * The pod runs: its checkpoint images have served. Not awaited: the switch does not wait for the disk to be
   * freed, and an image that stays (its agent unreachable, its base image missing) only costs disk, which the
   * log names.
   */
  private void retireCheckpointImages(Reservation reservation, Map<String, String> images) {
    for (String image : images.values()) {
      describer.agent(reservation.agent).retireCheckpointImage(image).onComplete(retired -> {
        if (retired.succeeded()) {
          LOG.info("migration {}: checkpoint image {} retired on {}: it now starts {}", reservation.migrationId(),
              image, reservation.agent.node(), retired.result().getString("startsFrom", "(retired before)"));
        } else {
          LOG.warn("migration {}: checkpoint image {} stays on {}: {}", reservation.migrationId(), image,
              reservation.agent.node(), retired.cause().getMessage());
        }
      });
    }
  }

  /**
   * The destination object records that the agents finished. It withholds the labels its source's
   * owner selects by: inside one cluster the source coordinator hands it over (after deleting the
   * source); in another cluster there is no owner to hand it to, so unless the source is kept it
   * simply gets its labels back here.
   */
  private Future<Void> markCommitted(Reservation reservation, JsonObject body) {
    if (reservation.destinationObject.isEmpty()) {
      return Future.succeededFuture();
    }
    boolean sameCluster = describer.clusterId().equals(reservation.request.sourceClusterId());
    Object keep = body.getValue("keep");
    return cluster.commitDestination(reservation.request.namespace(), reservation.destinationObject.get(), sameCluster,
            Boolean.TRUE.equals(keep))
        .recover(failure -> {
          LOG.warn("migration {}: marking pod {} committed failed: {}", reservation.migrationId(),
              reservation.destinationObject.get(), failure.getMessage());
          return Future.succeededFuture();
        });
  }

  private static JsonObject committed(Reservation reservation) {
    JsonObject answer = new JsonObject().put("node", reservation.agent.node());
    reservation.destinationObject.ifPresent(name -> answer.put("destinationObject", name));
    return answer;
  }

  private Duration readyTimeout(JsonObject body) {
    Object value = body.getValue("readyTimeoutMs");
    if (value == null) {
      return checkInterval;
    }
    if (!(value instanceof Number millis) || millis.longValue() <= 0) {
      throw MigrationException.badField("readyTimeoutMs", "must be a positive number of milliseconds");
    }
    Duration asked = Duration.ofMillis(millis.longValue());
    return asked.compareTo(checkInterval) < 0 ? asked : checkInterval;
  }

  /** The migration failed: abort the receive sessions (best effort) and remove the destination object. */
  public Future<Void> release(String id) {
    Reservation reservation = reservations.remove(id);
    if (reservation == null) {
      return Future.failedFuture(new MigrationException(Failure.NOT_FOUND, "no reservation " + id));
    }
    LOG.info("migration {}: releasing destination on {}", reservation.migrationId(), reservation.agent.node());
    // a session that had already imported its checkpoint image answers with the image's name
    List<Future<String>> aborted = reservation.sessions.stream()
        .map(session -> describer.agent(reservation.agent).abort(session.sessionId())
            .map(status -> status.getString("checkpointImage"))
            .otherwise((String) null)) // the session may already be gone: that is the goal
        .toList();
    return Future.join(aborted).transform(
        done ->
            reservation
                .destinationObject
                .map(name -> cluster.removeDestination(reservation.request.namespace(), name))
                .orElse(Future.succeededFuture()))
        .eventually(() -> {
          Set<String> imported = new LinkedHashSet<>(reservation.checkpointImages);
          aborted.stream().map(Future::result).filter(Objects::nonNull).forEach(imported::add);
          return discardCheckpointImages(reservation, imported);
        });
  }

  /**
   * The migration failed after the destination's sessions had imported their checkpoint images (the source
   * failed before the commit, or the commit's pod did not get Ready and was removed): the sessions have ended,
   * so their abort no longer removes the images. Best effort: an image left behind only costs disk, and the log
   * names it.
   */
  private Future<Void> discardCheckpointImages(Reservation reservation, Set<String> images) {
    List<Future<Void>> discarded = images.stream()
        .map(image -> describer.agent(reservation.agent).discardCheckpointImage(image)
            .<Void>mapEmpty()
            .otherwise(failure -> {
              LOG.warn("migration {}: checkpoint image {} stays on {}: {}", reservation.migrationId(), image,
                  reservation.agent.node(), failure.getMessage());
              return null;
            }))
        .toList();
    return Future.join(discarded).mapEmpty();
  }
}
