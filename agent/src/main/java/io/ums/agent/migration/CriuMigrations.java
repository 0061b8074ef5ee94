package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.container.WorkloadsByKind;
import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.criu.CriuRunner;
import io.ums.agent.criu.OrphanedCriu;
import io.ums.agent.criu.WorkloadMounts;
import io.ums.agent.dataplane.DataPlane;
import io.ums.agent.dataplane.ReceiveSessions;
import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.CheckpointImageLedger;
import io.ums.agent.kubelet.KubeletClient;
import io.ums.agent.stopped.ContainerCgroups;
import io.ums.agent.stopped.StoppedContainers;
import io.ums.agent.stopped.StoppedSources;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.agent.workload.Workloads;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The migration engine of an agent, both roles: receive sessions served by the data plane, and
 * checkpoint-and-stream migrations of local workloads with CRIU (stop-and-copy, disk-less).
 */
public final class CriuMigrations implements Migrations {
  private static final Logger LOG = LoggerFactory.getLogger(CriuMigrations.class);
  private static final long EXPIRY_SWEEP_MILLIS = 10_000;
  private static final int KEPT_FINISHED = 200;
  /** POST /v1/receive kind of a kubelet checkpoint archive, imported as a checkpoint image. */
  public static final String KIND_CHECKPOINT = "checkpoint";

  private final MigrationDeps deps;
  private final ReceiveSessions sessions = new ReceiveSessions(Clock.systemUTC());
  private final Map<String, IncomingMigration> destinations = new ConcurrentHashMap<>();
  private final Map<String, OutgoingMigration> sources = new ConcurrentHashMap<>();
  private final Map<String, MigrationStatus> statuses = new ConcurrentHashMap<>();
  private final List<String> finishedOrder = new ArrayList<>();
  private final String advertiseHost;
  private final int maxReceiveSessions;
  /** The node's kubelet, when the orchestrator-level approach is configured. */
  private final Optional<KubeletClient> kubelet;
  /** The containers (namespace/pod/container) a kubelet migration is under way for. */
  private final java.util.Set<String> kubeletTargets = ConcurrentHashMap.newKeySet();
  private DataPlane dataPlane;
  private volatile boolean draining;

  private CriuMigrations(MigrationDeps deps, String advertiseHost, int maxReceiveSessions) {
    this.deps = deps;
    this.advertiseHost = advertiseHost;
    this.maxReceiveSessions = maxReceiveSessions;
    this.kubelet = deps.kubelet().configured() ? Optional.of(KubeletClient.create(deps.vertx(), deps.kubelet()))
        : Optional.empty();
  }

  /**
   * Starts the engine and its data plane on the configured data port; {@code hooks} are {@link
   * MigrationHooks#NONE} but in fault tests.
   */
  public static Future<Migrations> start(Vertx vertx, EngineConfig config, Workloads workloads,
                                         CriuInstallation criu, MigrationHooks hooks) {
    MigrationSettings settings = MigrationSettings.forNode(config.node(), config.workDir());
    CriuRunner runner = CriuRunner.local(criu.binary().orElse(Path.of("criu")));
    DataPlane.Limits limits = new DataPlane.Limits(settings.idleTimeout(), settings.pingInterval());
    // the workload registry of a running agent serves processes and containers; the container backends need
    // the latter as what they are
    Optional<ContainerWorkloads> containers = workloads instanceof WorkloadsByKind byKind
        ? Optional.of(byKind.containers()) : Optional.empty();
    StoppedContainers stopped = new StoppedContainers(vertx, new ContainerCgroups(ContainerCgroups.DEFAULT_ROOT),
        config.workDir());
    MigrationDeps deps = new MigrationDeps(vertx, config.node(), workloads, containers, runner,
        DataPlane.client(vertx, limits), settings, "127.0.0.1", config.workDir(), config.kubelet(), hooks, stopped,
        new StoppedSources(vertx, workloads, runner.wrapper(), config.workDir()).withContainers(containers),
        new CheckpointImageLedger(config.workDir(), config.kubelet().checkpointImages()));
    CriuMigrations migrations = new CriuMigrations(deps, config.advertiseHost(), config.maxReceiveSessions());
    return vertx.executeBlocking(() -> {
      // sources a previous run of this agent stopped: resumed unless the destination may run them
      deps.stoppedSources().recover();
      // workloads restored by sessions of a previous run of this agent and never handed over: their
      // guards killed them with that agent; their records go below, before the sessions' directories
      List<String> unconfirmed = SessionDirs.unconfirmedWorkloads(settings.sessionRoot());
      // sessions of a previous run of this agent: their CRIU processes ended with it (a dump waiting at
      // its gate rolled back when the gate's connection died; a page server or lazy-pages daemon is
      // tethered to the agent), except a dump held for the verdict; any other CRIU still working in them
      // is killed before its directory goes
      OrphanedCriu.reap(settings.sessionRoot(), deps.stoppedSources().heldSessionDirs());
      SessionDirs.deleteAllBut(settings.sessionRoot(), deps.stoppedSources().heldSessionDirs());
      SessionDirs.delete(config.workDir().resolve(KubeletDestination.SESSIONS_DIR));
      // the node's mounts bound for a restore into a user namespace, by a run killed in the middle of it
      int restoreMounts = WorkloadMounts.sweepOrphans();
      if (restoreMounts > 0) {
        LOG.info("removed the bind mounts of {} restore(s) whose agent is gone", restoreMounts);
      }
      // kubelet archives a previous run was sending hold containers' memory: they go too
      int archives = KubeletSource.kubeletArchives(deps).sweep();
      if (archives > 0) {
        LOG.info("deleted {} kubelet checkpoint archive(s) a previous run of this agent was sending", archives);
      }
      java.nio.file.Files.createDirectories(settings.sessionRoot());
      return unconfirmed;
    }, false).compose(unconfirmed -> Future.all(unconfirmed.stream().map(id -> Future.<Void>succeededFuture()
        // marked before its restore: the previous run may have died before it registered the workload at all,
        // and a registry that knows no such id may say so by throwing
        .compose(none -> workloads.remove(id))
        .onSuccess(ignored -> LOG.warn("workload {}: restored by a session of a previous run of this agent, never "
            + "handed over; its record is removed", id)).otherwiseEmpty()).toList()))
        .compose(ignored -> stopped.recover()).compose(resumed -> {
      if (resumed > 0) {
        LOG.info("resumed {} container(s) a previous run of this agent had stopped for a migration", resumed);
      }
      return DataPlane.start(vertx, config.bindHost(), config.dataPort(), limits, migrations.sessions,
            migrations::onConnection);
    }).map(plane -> {
          migrations.dataPlane = plane;
          vertx.setPeriodic(EXPIRY_SWEEP_MILLIS, ignored -> migrations.expireSessions());
          retireUnsettledImages(vertx, deps);
          LOG.info("migration engine up: data port {}, sessions in {}", plane.port(), settings.sessionRoot());
          return migrations;
        });
  }

  /**
   * Checkpoint images no coordinator settled (see {@link CheckpointImageLedger}) are retired once they are
   * older than the kubelet settings say, checked every half of that time (at most every 5 min, at least every
   * second), the first time at the start: a previous run's images count too.
   */
  private static void retireUnsettledImages(Vertx vertx, MigrationDeps deps) {
    Duration after = deps.kubelet().retireImagesAfter();
    if (after.isZero()) {
      return;
    }
    long every = Math.max(1000, Math.min(after.toMillis() / 2, TimeUnit.MINUTES.toMillis(5)));
    Runnable pass = () -> vertx.executeBlocking(() -> deps.imageLedger().retireOlderThan(after,
        System.currentTimeMillis()), false);
    pass.run();
    vertx.setPeriodic(every, ignored -> pass.run());
  }

  @Override
  public io.vertx.core.json.JsonArray stoppedSources() {
    return deps.stoppedSources().list();
  }

  @Override
  public java.util.Map<String, String> heldSources() {
    return deps.stoppedSources().awaitingVerdict();
  }

  @Override
  public Future<JsonObject> settleStoppedSource(String migrationId, boolean kill) {
    return deps.stoppedSources().settleAsync(migrationId, kill);
  }

  @Override
  public Future<JsonObject> prepareReceive(JsonObject request) {
    if (draining) {
      return Future.failedFuture(new AgentException(ApiError.DRAINING, "agent is shutting down"));
    }
    if (destinations.size() >= maxReceiveSessions) {
      return Future.failedFuture(new AgentException(ApiError.TOO_MANY_SESSIONS, "node " + deps.node() + " already"
          + " holds " + destinations.size() + " receive sessions, its limit (--max-receive-sessions " + maxReceiveSessions
          + "); retry when one ends (unclaimed ones expire after " + deps.settings().receiveSessionTtl().toSeconds()
          + " s)"));
    }
    boolean encrypted = request.getBoolean("encrypt", false);
    ReceiveSessions.Session session = sessions.open(deps.settings().receiveSessionTtl(), encrypted);
    if (encrypted) {
      // the source's TLS connection will not wait for the key and certificate
      dataPlane.prepareTls().onFailure(e -> LOG.warn("session {}: TLS not ready: {}", session.id(), e.toString()));
    }
    MigrationMode mode = MigrationMode.fromWire(request.getString("mode"));
    IncomingMigration destination = new DestinationDriver(deps, session.id(),
        Backends.destination(request.getString("kind"), mode));
    destination.status().mode(mode.wireName());
    destinations.put(session.id(), destination);
    statuses.put(session.id(), destination.status());
    destination.completion().onComplete(ignored -> finished(session.id()));
    LOG.info("session {} PREPARING: receive session open until {}", session.id(), session.expiresAt());
    return Future.succeededFuture(new JsonObject()
        .put("sessionId", session.id())
        .put("dataAddress", hostPort(advertiseHost, dataPlane.port()))
        .put("token", session.tokenBase64())
        .put("encrypt", encrypted)
        .put("expiresAt", session.expiresAt().toString()));
  }

  private void onConnection(UmsConnection connection) {
    Optional<ReceiveSessions.Session> claimed = sessions.claim(connection.sessionId());
    IncomingMigration destination = destinations.get(connection.sessionId());
    if (claimed.isEmpty() || destination == null || draining) {
      LOG.info("session {}: connection refused (already claimed, expired or draining)", connection.sessionId());
      connection.close();
      return;
    }
    destination.attach(connection);
  }

  @Override
  public Future<String> startSend(JsonObject request) {
    if (draining) {
      return Future.failedFuture(new AgentException(ApiError.DRAINING, "agent is shutting down"));
    }
    JsonObject target = request.getJsonObject("destination");
    String address = target.getString("address");
    int colon = address.lastIndexOf(':');
    String host = address.substring(0, colon).replace("[", "").replace("]", "");
    int port = Integer.parseInt(address.substring(colon + 1));
    Buffer token;
    try {
      token = Buffer.buffer(Base64.getDecoder().decode(target.getString("token")));
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(AgentException.badField("destination.token", "must be base64"));
    }
    String id = UUID.randomUUID().toString();
    SourceDriver.Destination destination = new SourceDriver.Destination(host, port,
        target.getString("sessionId"), token, target.getBoolean("encrypt", false));
    boolean keep = request.getBoolean("keep", false);
    JsonObject kubeletTarget = request.getJsonObject("kubelet");
    if (kubeletTarget != null) {
      return startKubeletSend(id, KubeletSend.fromJson(kubeletTarget), destination, keep);
    }
    MigrationMode mode = MigrationMode.fromWire(request.getString("mode"));
    return deps.workloads().beginMigration(request.getString("workloadId"), id).map(workload -> {
      if (mode == MigrationMode.POST_COPY && WorkloadSpec.KIND_CONTAINER.equals(workload.spec().kind())
          && deps.containers().map(containers -> containers.runsOnPodman(workload.id())).orElse(true)) {
        deps.workloads().endMigration(workload.id());
        throw AgentException.badField("mode", "post-copy moves processes and runc containers; " + workload.id()
            + " is a podman container");
      }
      String what = WorkloadSpec.KIND_CONTAINER.equals(workload.spec().kind())
          ? "container " + workload.id() + " (" + workload.spec().image() + ")"
          : "workload " + workload.id() + " (pid " + workload.pid() + ")";
      OutgoingMigration migration = new SourceDriver(deps, id, workload.id(), what, destination,
          Backends.source(workload, keep, mode, deps));
      migration.status().mode(mode.wireName());
      sources.put(id, migration);
      statuses.put(id, migration.status());
      migration.completion().onComplete(ignored -> finished(id));
      migration.start();
      return id;
    });
  }

  private Future<String> startKubeletSend(String id, KubeletSend send, SourceDriver.Destination destination,
                                          boolean keep) {
    KubeletTarget target = send.target();
    if (kubelet.isEmpty()) {
      return Future.failedFuture(new AgentException(ApiError.UNAVAILABLE, "node " + deps.node()
          + " has no kubelet configured (start the agent with --kubelet-url)"));
    }
    if (!kubeletTargets.add(target.toString())) {
      return Future.failedFuture(new AgentException(ApiError.CONFLICT, "container " + target
          + " is already migrating"));
    }
    OutgoingMigration migration = new SourceDriver(deps, id, target.toString(), "kubelet checkpoint of " + target,
        destination, Backends.kubeletSource(send, keep, kubelet.get(), deps.stopped()));
    sources.put(id, migration);
    statuses.put(id, migration.status());
    migration.completion().onComplete(ignored -> {
      kubeletTargets.remove(target.toString());
      finished(id);
    });
    migration.start();
    return Future.succeededFuture(id);
  }

  @Override
  public Optional<StoppedContainers> stoppedContainers() {
    return Optional.of(deps.stopped());
  }

  @Override
  public Future<JsonObject> awaitCompletion(String migrationId) {
    OutgoingMigration source = sources.get(migrationId);
    if (source != null) {
      return source.completion();
    }
    IncomingMigration destination = destinations.get(migrationId);
    if (destination != null) {
      return destination.completion();
    }
    return status(migrationId).map(Future::succeededFuture)
        .orElseGet(() -> Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "no migration " + migrationId)));
  }

  @Override
  public Optional<JsonObject> status(String migrationId) {
    return Optional.ofNullable(statuses.get(migrationId)).map(MigrationStatus::toJson);
  }

  @Override
  public Future<JsonObject> abort(String migrationId) {
    OutgoingMigration source = sources.get(migrationId);
    IncomingMigration destination = destinations.get(migrationId);
    if (source == null && destination == null) {
      return status(migrationId).map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
          new AgentException(ApiError.NOT_FOUND, "no migration " + migrationId)));
    }
    if (source != null) {
      source.abort(Code.ABORTED, "aborted by request");
    } else {
      destination.abort(Code.ABORTED, "aborted by request");
    }
    return Future.succeededFuture(statuses.get(migrationId).toJson());
  }

  @Override
  public Future<Void> drain(Duration grace) {
    draining = true;
    List<Future<JsonObject>> inFlight = new ArrayList<>();
    sources.values().forEach(source -> inFlight.add(source.completion()));
    destinations.values().forEach(destination -> {
      destination.expire("the agent is shutting down");
      inFlight.add(destination.completion());
    });
    LOG.info("draining: {} migration(s) in flight get {} s", inFlight.size(), grace.toSeconds());
    Future<Void> all = Future.join(inFlight).mapEmpty();
    // a third of the grace period is kept for the rollbacks of what did not finish in time
    long patience = Math.max(0, grace.toMillis() * 2 / 3);
    return all.timeout(patience, TimeUnit.MILLISECONDS)
        .recover(timeout -> {
          sources.values().forEach(source -> source.abort(Code.SHUTTING_DOWN,
              "the source agent is shutting down (grace period over)"));
          destinations.values().forEach(destination -> destination.abort(Code.SHUTTING_DOWN,
              "the destination agent is shutting down"));
          return all;
        })
        .otherwiseEmpty()
        .compose(ignored -> dataPlane == null ? Future.succeededFuture() : dataPlane.close())
        .compose(ignored -> kubelet.map(KubeletClient::close).orElse(Future.succeededFuture()))
        .compose(ignored -> deps.vertx().executeBlocking(() -> {
          // the agent's session directory goes with it when no session is left in it
          try {
            java.nio.file.Files.deleteIfExists(deps.settings().sessionRoot());
          } catch (java.nio.file.DirectoryNotEmptyException e) {
            LOG.warn("session directory {} not empty at shutdown", deps.settings().sessionRoot());
          }
          return null;
        }, false));
  }

  @Override
  public boolean busy() {
    return !sources.isEmpty() || destinations.values().stream()
        .anyMatch(destination -> destination.status().phase() != MigrationPhase.PREPARING);
  }

  private void expireSessions() {
    for (String id : sessions.expire()) {
      IncomingMigration destination = destinations.get(id);
      if (destination != null) {
        destination.expire("no source connected before the session expired");
      }
    }
  }

  private synchronized void finished(String id) {
    sources.remove(id);
    destinations.remove(id);
    finishedOrder.add(id);
    while (finishedOrder.size() > KEPT_FINISHED) {
      statuses.remove(finishedOrder.remove(0));
    }
  }

  private static String hostPort(String host, int port) {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
