package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.CoordinatorClient;
import io.ums.coordinator.peer.DestinationPolicy;
import io.ums.coordinator.peer.PeerClient;
import io.ums.protocol.security.BearerToken;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Starts migrations and remembers them. {@link #start} completes once the workload is resolved
 * and locked, so "unknown workload" (404) and "already migrating" (409) are answered directly;
 * everything after that is reported through the {@link Migration}'s events and outcome.
 *
 * <p>Running migrations are all kept; finished ones at most {@link MigrationSettings#finishedKept} (the
 * oldest go first) and at most {@link MigrationSettings#finishedTtl}, so memory does not grow with the
 * number of requests served. What is forgotten answers 404 (and the frontman forgets the workload).
 */
public final class MigrationService {
  private final Vertx vertx;
  private final Cluster cluster;
  private final ClusterDescriber describer;
  private final PeerClient http;
  private final MigrationSettings settings;
  private final DestinationPolicy destinations;
  /** In the order they started. */
  private final Map<String, Migration> byId = new LinkedHashMap<>();
  private final Map<String, Migration> latestByWorkload = new HashMap<>();

  public MigrationService(Vertx vertx, Cluster cluster, ClusterDescriber describer, PeerClient http,
                          MigrationSettings settings, DestinationPolicy destinations) {
    this.destinations = destinations;
    this.vertx = vertx;
    this.cluster = cluster;
    this.describer = describer;
    this.http = http;
    this.settings = settings;
    cluster.activeMigrations(this::running);
  }

  /** Whether this coordinator runs migration {@code id} now. */
  public boolean running(String id) {
    return find(id).map(m -> !m.finished()).orElse(false);
  }

  public Future<Migration> start(MigrationRequest request) {
    String id = UUID.randomUUID().toString();
    Optional<BearerToken> destinationToken;
    try {
      destinationToken = destinations.tokenFor(request.destinationUrl());
    } catch (MigrationException notAllowed) {
      return Future.failedFuture(notAllowed);
    }
    return cluster
        .resolve(request.namespace(), request.name())
        .compose(
            workload -> {
              Approach approach = chooseApproach(request, workload);
              return cluster.lock(workload, id, approach.wireName())
                  .map(locked -> launch(id, request, workload, approach, destinationToken));
            });
  }

  private Migration launch(String id, MigrationRequest request, SourceWorkload workload, Approach approach,
                           Optional<BearerToken> destinationToken) {
    Migration migration = new Migration(id, request, System.currentTimeMillis());
    forgetOldFinished();
    byId.put(id, migration);
    latestByWorkload.put(request.workloadKey(), migration);
    CoordinatorClient destination = new CoordinatorClient(http, request.destinationUrl(), destinationToken);
    new MigrationRun(vertx, cluster, describer, destination, settings, migration, workload, approach).start();
    return migration;
  }

  private static Approach chooseApproach(MigrationRequest request, SourceWorkload workload) {
    Approach approach = request.approach().orElse(Approach.forWorkload(workload.kind(), workload.runtime()));
    if (approach.viaKubelet()) {
      if (workload.podTemplate().isEmpty()) {
        throw MigrationException.badField("interface",
            "kubelet (orchestrator-level) checkpoints pods through their kubelet: it needs the coordinator in"
                + " Kubernetes mode, '" + workload.name() + "' is a local " + workload.kind());
      }
      return approach;
    }
    if (SourceWorkload.KIND_POD.equals(workload.kind())) {
      throw new MigrationException(Failure.NOT_MIGRATABLE, "the agent on node " + workload.node()
          + " has no workload for pod " + workload.key() + ": interface " + approach.wireName()
          + " needs one (only interface kubelet moves a pod the agent does not run)");
    }
    String needs = approach.agentKind();
    if (!needs.equals(workload.kind())) {
      throw MigrationException.badField(
          "interface",
          approach.wireName() + " migrates a " + needs + ", '" + workload.name() + "' is a " + workload.kind());
    }
    return approach;
  }

  public Optional<Migration> find(String id) {
    forgetOldFinished();
    return Optional.ofNullable(byId.get(id));
  }

  /** The most recent migration of namespace/name, for the frontman. */
  public Optional<Migration> latestFor(String namespace, String name) {
    forgetOldFinished();
    return Optional.ofNullable(latestByWorkload.get(namespace + "/" + name));
  }

  /** Finished migrations beyond the count or past their time go, oldest first; running ones all stay. */
  private void forgetOldFinished() {
    long now = System.currentTimeMillis();
    long finished = byId.values().stream().filter(Migration::finished).count();
    Iterator<Migration> all = byId.values().iterator();
    while (all.hasNext()) {
      Migration migration = all.next();
      if (migration.finished() && (finished > settings.finishedKept()
          || now - migration.finishedAtMillis() > settings.finishedTtl().toMillis())) {
        all.remove();
        latestByWorkload.remove(migration.request().workloadKey(), migration);
        finished--;
      }
    }
  }

  public JsonArray summaries() {
    forgetOldFinished();
    JsonArray all = new JsonArray();
    byId.values()
        .forEach(
            m ->
                all.add(
                    new JsonObject()
                        .put("migrationId", m.id())
                        .put("name", m.request().name())
                        .put("namespace", m.request().namespace())
                        .put("state", m.toJson().getString("state"))));
    return all;
  }
}
