package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.DestinationRequest;
import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.ums.coordinator.peer.CoordinatorClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one locked migration from the source coordinator: check the destination, reserve a
 * receive session there, start checkpoint+stream on the source agent, follow it, then finish
 * (commit the destination, redirect, delete or keep the source) or roll back (release the
 * destination, unlock the source). The agents move the bytes; this class only talks HTTP.
 */
final class MigrationRun {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationRun.class);
  private static final long PROGRESS_EVENT_INTERVAL_NANOS = 250_000_000L;
  /** A kubelet commit answers after the pod got Ready (at most a phase timeout) plus its own API calls. */
  private static final Duration COMMIT_ANSWER_SLACK = Duration.ofSeconds(30);

  private final Vertx vertx;
  private final Cluster cluster;
  private final ClusterDescriber describer;
  private final CoordinatorClient destination;
  private final MigrationSettings settings;
  private final Migration migration;
  private final SourceWorkload workload;
  private final Approach approach;
  private final AgentClient sourceAgent;
  private final long startedNanos = System.nanoTime();
  /** The mode used: the request's, or what "auto" chose (see {@link ModeChoice}). */
  private String mode = MigrationRequest.STOP_AND_COPY;
  private JsonObject reservation;
  private final List<String> warnings = new ArrayList<>();
  private EventType lastAnnounced;
  /** Orchestrator level: the container whose checkpoint runs now (events name it). */
  private String currentContainer;
  private long lastProgressEventNanos;
  private ReservationKeepAlive keepAlive;
  /** Step records (pod annotations, Kubernetes Events) are written one after the other, in order. */
  private Future<Void> stepsRecorded = Future.succeededFuture();

  MigrationRun(
      Vertx vertx,
      Cluster cluster,
      ClusterDescriber describer,
      CoordinatorClient destination,
      MigrationSettings settings,
      Migration migration,
      SourceWorkload workload,
      Approach approach) {
    this.vertx = vertx;
    this.cluster = cluster;
    this.describer = describer;
    this.destination = destination;
    this.settings = settings;
    this.migration = migration;
    this.workload = workload;
    this.approach = approach;
    this.sourceAgent = describer.agent(workload.agent());
  }

  void start() {
    LOG.info(
        "migration {}: {} on {} -> {} ({})",
        migration.id(), workload.key(), workload.node(), migration.request().destinationUrl(), approach.wireName());
    recordStep("STARTED", "migration to " + migration.request().destinationUrl());
    checkDestination()
        .compose(arch -> ModeChoice.choose(migration, approach, sourceAgent, workload.agentWorkloadId())
            .compose(chosen -> {
              mode = chosen;
              return reserve(arch);
            }))
        .compose(reserved -> approach.viaKubelet()
            ? new KubeletTransfer(sourceAgent, workload, migration.request().keep(), reservation, this::startedKubelet,
                this::follow, approach, StoppedSource.hold(settings)).run()
            : startTransfer().compose(this::follow))
        .compose(this::finish)
        .onComplete(ended -> Optional.ofNullable(keepAlive).ifPresent(ReservationKeepAlive::stop))
        .onSuccess(migration::succeed)
        .onFailure(this::rollBack);
  }

  private Future<String> checkDestination() {
    return Future.all(sourceAgent.info(), destination.describe())
        .map(
            both -> {
              JsonObject sourceInfo = both.resultAt(0);
              Compatibility.checkSource(sourceInfo, approach, workload.node());
              warnings.addAll(Compatibility.check(sourceInfo, both.resultAt(1), approach));
              warnings.forEach(w -> LOG.info("migration {}: {}", migration.id(), w));
              return sourceInfo.getString("arch");
            });
  }

  private Future<JsonObject> reserve(String arch) {
    DestinationRequest request =
        new DestinationRequest(
            migration.id(),
            workload.name(),
            workload.namespace(),
            approach.agentKind(),
            describer.clusterId(),
            workload.node(),
            arch,
            migration.request().destinationNode(),
            workload.podTemplate(),
            approach.viaKubelet() ? workload.containers() : List.of(),
            mode);
    return destination
        .reserve(ReservationBodies.requestBody(request))
        .map(
            answer -> {
              boolean sameCluster = describer.clusterId().equals(answer.getString("clusterId"));
              // the destination cluster may ask for encryption; this side's own rule applies all the same
              reservation = answer.put("encrypt",
                  answer.getBoolean("encrypt", false) || settings.encrypts(sameCluster));
              JsonObject event =
                  new JsonObject()
                      .put("node", answer.getString("node"))
                      .put("dataAddress", answer.getString("dataAddress"))
                      .put("sessionId", answer.getString("sessionId"))
                      .put("destinationClusterId", answer.getString("clusterId"))
                      .put("creationMs", answer.getLong("creationMs"))
                      .put("mode", mode);
              if (answer.containsKey("sessions")) {
                event.put("sessions", answer.getJsonArray("sessions").stream()
                    .map(s -> ((JsonObject) s).copy().put("token", (String) null)).collect(JsonArray::new,
                        JsonArray::add, JsonArray::addAll));
              }
              announce(EventType.RESERVED, event);
              keepAlive = ReservationKeepAlive.start(vertx, destination, answer, settings.phaseTimeout());
              return answer;
            });
  }

  private Future<String> startTransfer() {
    JsonObject target =
        new JsonObject()
            .put("address", reservation.getString("dataAddress"))
            .put("sessionId", reservation.getString("sessionId"))
            .put("token", reservation.getString("token"))
            .put("encrypt", reservation.getBoolean("encrypt"));
    return sourceAgent
        .send(workload.agentWorkloadId(), target, migration.request().keep(), mode)
        .map(
            accepted -> {
              String agentMigrationId = accepted.getString("migrationId");
              if (agentMigrationId == null) {
                throw new MigrationException(Failure.PEER_FAILED, "source agent accepted /v1/send without a migrationId");
              }
              announce(EventType.CHECKPOINTING, new JsonObject().put("agentMigrationId", agentMigrationId));
              return agentMigrationId;
            });
  }

  /** A container's kubelet checkpoint was accepted by the source agent (orchestrator level). */
  private void startedKubelet(String container, String agentMigrationId) {
    currentContainer = container;
    announce(EventType.CHECKPOINTING, new JsonObject().put("agentMigrationId", agentMigrationId));
  }

  private Future<JsonObject> follow(String agentMigrationId) {
    return new AgentStatusWatcher(vertx, sourceAgent, agentMigrationId, settings, this::onStatus,
            lost -> settleLostSource(agentMigrationId, lost))
        .watch()
        .map(status -> {
          String sourceLost = status.getString("sourceLost");
          if (sourceLost != null) {
            warnings.add(sourceLost);
          }
          return status;
        });
  }

  /**
   * The source agent is gone. Orchestrator level, the kubelet's checkpoint left the pod running, and its
   * archive alone restores nothing: the migration fails, the pod runs on. Otherwise the destination says.
   */
  private Future<JsonObject> settleLostSource(String agentMigrationId, AgentStatusWatcher.LostAgent lost) {
    if (approach.viaKubelet()) {
      return Future.failedFuture(new MigrationException(Failure.PEER_FAILED, "lost the source agent on node "
          + workload.node() + " during " + lost.lastPhase() + " (" + lost.why() + "); the kubelet's checkpoint"
          + " leaves pod " + workload.key() + " running there"));
    }
    return new LostSourceAgent(vertx, sourceAgent, workload, agentMigrationId, destination, reservation, settings,
        migration::sourceSettled).settle(lost);
  }

  private void onStatus(JsonObject status) {
    JsonObject bytes = status.getJsonObject("bytes", new JsonObject());
    if ("DONE".equals(status.getString("phase"))) {
      catchUpTo(EventType.DONE, bytes);
      return;
    }
    EventType type = EventType.fromAgentPhase(status.getString("phase"));
    if (type == null) {
      return;
    }
    if (type != lastAnnounced) {
      catchUpTo(type, bytes);
      announce(type, new JsonObject().put("bytes", bytes));
    } else if (type != EventType.RESTORING // memory pages stream while CRIU dumps, the rest after it
        && System.nanoTime() - lastProgressEventNanos > PROGRESS_EVENT_INTERVAL_NANOS) {
      announce(type, new JsonObject().put("bytes", bytes).put("progress", true));
    }
  }

  /**
   * Polling can miss a short phase; the agent went through every phase in order all the same, so
   * the stream still shows each one, marked "passed" (seen only after it ended).
   */
  private void catchUpTo(EventType type, JsonObject bytes) {
    for (EventType phase : List.of(EventType.CHECKPOINTING, EventType.TRANSFERRING, EventType.RESTORING)) {
      if (phase.ordinal() >= type.ordinal()) {
        return;
      }
      if (lastAnnounced == null || phase.ordinal() > lastAnnounced.ordinal()) {
        announce(phase, new JsonObject().put("bytes", bytes).put("passed", true));
      }
    }
  }

  private void announce(EventType type, JsonObject details) {
    if (type != lastAnnounced) {
      LOG.info("migration {}: {}", migration.id(), type);
      recordStep(type.name(), type.name().toLowerCase(java.util.Locale.ROOT) + " " + workload.key());
    }
    lastAnnounced = type;
    lastProgressEventNanos = System.nanoTime();
    if (currentContainer != null) {
      details.put("container", currentContainer);
    }
    migration.emit(type, details);
  }

  private void recordStep(String step, String message) {
    stepsRecorded = stepsRecorded.eventually(() -> cluster.recordStep(workload, migration.id(), step, message));
  }

  /**
   * Once the destination committed, the workload lives there: nothing after that is rolled back.
   * A redirect or source clean-up that fails is reported as a warning of the successful migration
   * (in Kubernetes the pods keep their markers, and a restarted coordinator finishes the job).
   */
  private Future<JsonObject> finish(JsonObject finalStatus) {
    boolean sameCluster = describer.clusterId().equals(reservation.getString("clusterId"));
    return stepsRecorded
        .compose(recorded -> commit(finalStatus))
        .compose(
            committed -> {
              String destinationObject = committed.getString("destinationObject",
                  reservation.getString("destinationObject"));
              if (destinationObject != null) {
                reservation.put("destinationObject", destinationObject);
              }
              reservation.put("podStartMs", committed.getLong("podStartMs", 0L));
              Future<Void> redirected = migration.request().redirect().isPresent() && sameCluster && destinationObject != null
                  ? afterCommit("redirecting to " + destinationObject, cluster.redirectTo(workload, destinationObject))
                  : Future.succeededFuture();
              boolean keep = migration.request().keep();
              return redirected.compose(done -> afterCommit("committing the stopped source",
                      StoppedSource.commit(approach, sourceAgent, workload, keep)))
                  .compose(done -> afterCommit(keep ? "unlocking the kept source" : "deleting the source",
                      cluster.finishSource(workload, migration.id(), keep,
                          Optional.ofNullable(sameCluster ? destinationObject : null))))
                  .compose(done -> afterCommit("ending the stopped source", StoppedSource.end(approach, sourceAgent,
                      cluster, workload, keep, settings.phaseTimeout())));
            })
        .map(done -> result(finalStatus));
  }

  private Future<Void> afterCommit(String step, Future<Void> done) {
    return done.recover(failure -> {
      String warning = "the workload runs at the destination, but " + step + " failed: " + failure.getMessage();
      LOG.warn("migration {}: {}", migration.id(), warning);
      warnings.add(warning);
      return Future.succeededFuture();
    });
  }

  /**
   * Orchestrator level: the commit creates the destination pod from the checkpoint images and
   * answers once it is Ready (or fails after the phase timeout, the pod removed again): the request
   * may take that long.
   */
  private Future<JsonObject> commit(JsonObject finalStatus) {
    String reservationId = reservation.getString("reservationId");
    if (!approach.viaKubelet()) {
      return destination.commit(reservationId, new JsonObject().put("keep", migration.request().keep()));
    }
    currentContainer = null;
    migration.emit(EventType.RESTORING, new JsonObject().put("pod", "starting from checkpoint images")
        .put("checkpointImages", finalStatus.getJsonObject("checkpointImages")));
    JsonObject body = new JsonObject()
        .put("keep", migration.request().keep())
        .put("checkpointImages", finalStatus.getJsonObject("checkpointImages"))
        .put("readyTimeoutMs", settings.phaseTimeout().toMillis());
    return destination.commit(reservationId, body, settings.phaseTimeout().plus(COMMIT_ANSWER_SLACK));
  }

  private JsonObject result(JsonObject finalStatus) {
    long totalMs = (System.nanoTime() - startedNanos) / 1_000_000;
    JsonObject timings = finalStatus.getJsonObject("timings", new JsonObject());
    JsonObject bytes = finalStatus.getJsonObject("bytes", new JsonObject());
    JsonObject overhead =
        new JsonObject()
            .put("creation", reservation.getLong("creationMs", 0L))
            .put("checkpoint", timings.getLong("dumpMs", 0L))
            .put("freeze", timings.getLong("freezeMs", 0L))
            .put("transfer", timings.getLong("transferMs", 0L))
            .put("restore", timings.getLong("restoreMs", 0L))
            .put("podStart", reservation.getLong("podStartMs", 0L))
            .put("downtime", StoppedSource.downtime(approach, timings, reservation.getLong("podStartMs", 0L)))
            .put("agentTotal", timings.getLong("totalMs", 0L))
            .put("total", totalMs)
            .put("layerBytesSent", bytes.getLong("layerBytesSent", 0L))
            .put("layerBytesSkipped", bytes.getLong("layerBytesSkipped", 0L));
    JsonObject destinationJson =
        new JsonObject()
            .put("url", migration.request().destinationUrl())
            .put("clusterId", reservation.getString("clusterId"))
            .put("node", reservation.getString("node"))
            .put("workloadId", finalStatus.getString("destinationWorkloadId"));
    if (reservation.getString("destinationObject") != null) {
      destinationJson.put("pod", reservation.getString("destinationObject"));
    }
    if (finalStatus.containsKey("containers")) {
      destinationJson.put("containers", finalStatus.getJsonArray("containers"));
    }
    JsonObject body =
        new JsonObject()
            .put("migrationId", migration.id())
            .put("interface", approach.wireName())
            .put("mode", mode)
            .put("source", new JsonObject().put("node", workload.node()).put("workloadId", workload.agentWorkloadId()))
            .put("destination", destinationJson)
            .put("keep", migration.request().keep())
            .put("overhead", overhead)
            .put(
                "bytes",
                new JsonObject()
                    .put("raw", bytes.getLong("raw", 0L))
                    .put("wire", bytes.getLong("wire", 0L))
                    .put("layerBytesSent", bytes.getLong("layerBytesSent", 0L))
                    .put("layerBytesSkipped", bytes.getLong("layerBytesSkipped", 0L)))
            .put("agentMigrationId", finalStatus.getString("id"));
    if (mode.equals(MigrationRequest.POST_COPY)) {
      overhead.put("postCopy", timings.getLong("postCopyMs", 0L));
      body.put("postCopyMs", timings.getLong("postCopyMs", 0L))
          .put("postCopy", finalStatus.getJsonObject("postCopy", new JsonObject()));
    }
    if (!warnings.isEmpty()) {
      body.put("warnings", new JsonArray(List.copyOf(warnings)));
    }
    migration.request().redirect().ifPresent(url -> body.put("redirect", url));
    LOG.info("migration {}: DONE in {} ms on {}", migration.id(), totalMs, reservation.getString("node"));
    return body;
  }

  private void rollBack(Throwable cause) {
    MigrationException failure =
        cause instanceof MigrationException expected ? expected : MigrationException.internal(cause);
    LOG.info("migration {}: ROLLED_BACK: {}", migration.id(), failure.getMessage());
    Future<Void> released =
        reservation == null
            ? Future.succeededFuture()
            : destination
                .release(reservation.getString("reservationId"))
                .recover(
                    e -> {
                      LOG.warn("migration {}: releasing the destination failed: {}", migration.id(), e.getMessage());
                      return Future.succeededFuture();
                    });
    released
        .eventually(() -> StoppedSource.resume(vertx, approach, cluster, describer, workload,
            StoppedSource.hold(settings)))
        .eventually(() -> stepsRecorded)
        .compose(done -> cluster.unlock(workload, migration.id(), failure.getMessage()))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                LOG.warn("migration {}: unlocking the source failed: {}", migration.id(), ar.cause().getMessage());
              }
              migration.fail(failure);
            });
  }
}
