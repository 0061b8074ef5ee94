package io.ums.agent.api;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.error.ErrorResponses;
import io.ums.agent.migration.CriuMigrations;
import io.ums.agent.migration.Migrations;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadStatus;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import java.util.NoSuchElementException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * The agent's HTTP control API (see shared-notes/agent-api.md): health, metrics, node info, workloads and
 * the migration routes, which it validates and delegates to {@link Migrations}. Failures of any handler go
 * through {@link ErrorResponses}.
 */
public final class ControlApi {
  private static final long MAX_BODY_BYTES = 1 << 20;

  private final Vertx vertx;
  private final NodeInfo node;
  private final CriuInstallation criu;
  private final Workloads workloads;
  private final Migrations migrations;
  private final PrometheusMeterRegistry registry;
  private final BooleanSupplier draining;

  public ControlApi(Vertx vertx, NodeInfo node, CriuInstallation criu, Workloads workloads, Migrations migrations,
                    PrometheusMeterRegistry registry, BooleanSupplier draining) {
    this.vertx = vertx;
    this.node = node;
    this.criu = criu;
    this.workloads = workloads;
    this.migrations = migrations;
    this.registry = registry;
    this.draining = draining;
  }

  public Router router() {
    Router router = Router.router(vertx);
    router.route().handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
    router.get("/health").handler(this::health);
    router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    router.get("/v1/info").handler(context -> json(context, 200, node.toJson(criu)));
    router.post("/v1/workloads").handler(answer(this::launch));
    router.get("/v1/workloads").handler(context -> json(context, 200, workloadList()));
    router.get("/v1/workloads/:id").handler(answer(this::findWorkload));
    router.get("/v1/workloads/:id/logs").handler(this::logs);
    router.delete("/v1/workloads/:id").handler(this::remove);
    router.post("/v1/receive").handler(answer(this::receive));
    router.post("/v1/send").handler(answer(this::send));
    router.get("/v1/migrations/:id").handler(answer(this::migrationStatus));
    router.post("/v1/migrations/:id/abort").handler(answer(this::abort));
    // sources a killed agent left stopped while the destination may have restored them: the coordinator's word
    router.get("/v1/stopped-sources").handler(context -> json(context, 200, migrations.stoppedSources()));
    router.post("/v1/stopped-sources/:id/kill").handler(answer(context -> settle(context, true)));
    router.post("/v1/stopped-sources/:id/resume").handler(answer(context -> settle(context, false)));
    router.get("/v1/stopped-containers").handler(context -> json(context, 200, stoppedContainers().list()));
    router.post("/v1/stopped-containers/:id/kill").handler(answer(context -> stoppedContainers()
        .kill(containerId(context)).map(settled -> new Answer(200, settled))));
    router.post("/v1/stopped-containers/:id/commit").handler(answer(context -> stoppedContainers()
        .commit(containerId(context)).map(committed -> new Answer(200, committed))));
    router.post("/v1/stopped-containers/:id/resume").handler(answer(context -> stoppedContainers()
        .resume(containerId(context), "resumed by request").map(settled -> new Answer(200, settled))));
    router.route().last().handler(context -> ErrorResponses.send(context, new AgentException(ApiError.NOT_FOUND,
        "no such route: " + context.request().method() + " " + context.request().path())));
    router.route().failureHandler(context -> ErrorResponses.send(context, context.failure() != null
        ? context.failure() : statusFailure(context.statusCode())));
    return router;
  }

  /** An answer with a status, for handlers that compose futures. */
  record Answer(int status, Object body) {}

  private io.vertx.core.Handler<RoutingContext> answer(Function<RoutingContext, Future<Answer>> handler) {
    return context -> {
      Future<Answer> result;
      try {
        result = handler.apply(context);
      } catch (RuntimeException e) {
        result = Future.failedFuture(e);
      }
      result.onSuccess(answer -> json(context, answer.status(), answer.body()))
          .onFailure(failure -> ErrorResponses.send(context, failure));
    };
  }

  private void health(RoutingContext context) {
    boolean drain = draining.getAsBoolean();
    json(context, drain ? 503 : 200, new JsonObject().put("status", drain ? "DRAINING" : "UP"));
  }

  private Future<Answer> launch(RoutingContext context) {
    refuseWhileDraining("launch a workload");
    var spec = RequestBodies.workloadSpec(RequestBodies.jsonObject(context));
    return workloads.launch(spec).map(workload -> new Answer(201, WorkloadJson.of(workload, node.node())));
  }

  private JsonArray workloadList() {
    JsonArray list = new JsonArray();
    java.util.Map<String, String> held = migrations.heldSources();
    workloads.list().forEach(workload -> list.add(withHold(WorkloadJson.of(workload, node.node()), held)));
    return list;
  }

  /** A source a killed agent's migration left stopped says so, and how it is settled. */
  private static JsonObject withHold(JsonObject json, java.util.Map<String, String> held) {
    String migrationId = held.get(json.getString("id"));
    return migrationId == null ? json : json.put("awaitingVerdict", "stopped by migration " + migrationId
        + ", which this agent's previous run did not finish, until the destination's verdict (POST"
        + " /v1/stopped-sources/" + migrationId + "/kill|resume)");
  }

  /** One workload, with its resident memory (what the coordinator's mode "auto" decides on). */
  private Future<Answer> findWorkload(RoutingContext context) {
    var workload = workload(context.pathParam("id"));
    JsonObject json = withHold(WorkloadJson.of(workload, node.node()), migrations.heldSources());
    if (workload.pid() <= 0) {
      return Future.succeededFuture(new Answer(200, json));
    }
    return vertx.executeBlocking(() -> io.ums.agent.criu.ProcessTree.residentBytes(workload.pid()), false)
        .map(rss -> new Answer(200, json.put("rssBytes", rss)));
  }

  private void logs(RoutingContext context) {
    workloads.logs(context.pathParam("id"))
        .onSuccess(text -> context.response().putHeader("content-type", "text/plain; charset=utf-8").end(text))
        .onFailure(failure -> ErrorResponses.send(context, failure));
  }

  private void remove(RoutingContext context) {
    workloads.remove(context.pathParam("id"))
        .onSuccess(ignored -> context.response().setStatusCode(204).end())
        .onFailure(failure -> ErrorResponses.send(context, failure));
  }

  private Future<Answer> receive(RoutingContext context) {
    refuseWhileDraining("open a receive session");
    JsonObject request = RequestBodies.receiveRequest(RequestBodies.jsonObject(context));
    if (!CriuMigrations.KIND_CHECKPOINT.equals(request.getString("kind"))) {
      // a checkpoint archive becomes an image here; the node's runtime restores it, with its own CRIU
      requireCriu();
    }
    return migrations.prepareReceive(request).map(session -> new Answer(201, session));
  }

  private Future<Answer> send(RoutingContext context) {
    refuseWhileDraining("start a migration");
    JsonObject request = RequestBodies.sendRequest(RequestBodies.jsonObject(context));
    if (request.getJsonObject("kubelet") == null) {
      Workload workload = workload(request.getString("workloadId"));
      if (workload.status() == WorkloadStatus.MIGRATING) {
        throw new AgentException(ApiError.CONFLICT, "workload " + workload.id() + " is already migrating");
      }
      // the kubelet's runtime checkpoints with its own CRIU: this agent's is not needed for that
      requireCriu();
    }
    Future<String> started = migrations.startSend(request);
    if (!"true".equals(context.queryParams().get("wait"))) {
      return started.map(id -> new Answer(202, new JsonObject().put("migrationId", id)));
    }
    return started.compose(migrations::awaitCompletion).map(status -> new Answer(200, status));
  }

  private Future<Answer> migrationStatus(RoutingContext context) {
    String id = context.pathParam("id");
    JsonObject status = migrations.status(id)
        .orElseThrow(() -> new AgentException(ApiError.NOT_FOUND, "no migration " + id));
    return Future.succeededFuture(new Answer(200, status));
  }

  private Future<Answer> settle(RoutingContext context, boolean kill) {
    return migrations.settleStoppedSource(context.pathParam("id"), kill).map(outcome -> new Answer(200, outcome));
  }

  private Future<Answer> abort(RoutingContext context) {
    return migrations.abort(context.pathParam("id")).map(status -> new Answer(202, status));
  }

  private io.ums.agent.stopped.StoppedContainers stoppedContainers() {
    return migrations.stoppedContainers().orElseThrow(() -> new AgentException(ApiError.UNAVAILABLE,
        "migrations are unavailable on node " + node.node()));
  }

  private static String containerId(RoutingContext context) {
    var matcher = RequestBodies.CONTAINER_ID.matcher(context.pathParam("id"));
    if (!matcher.matches()) {
      throw AgentException.badField("id", "not a container id");
    }
    return matcher.group(2);
  }

  private Workload workload(String id) {
    return workloads.find(id).orElseThrow(() -> new NoSuchElementException("no workload " + id));
  }

  private void refuseWhileDraining(String what) {
    if (draining.getAsBoolean()) {
      throw new AgentException(ApiError.DRAINING, "agent " + node.node() + " is shutting down: cannot " + what);
    }
  }

  private void requireCriu() {
    criu.problem().ifPresent(problem -> {
      throw new AgentException(ApiError.CRIU_UNAVAILABLE, "migrations refused: " + problem);
    });
  }

  // Failures vertx-web raises with a bare status code (body handler, routing).
  private static AgentException statusFailure(int status) {
    return switch (status) {
      case 413 -> AgentException.badField("body", "larger than " + MAX_BODY_BYTES + " bytes");
      case 400 -> new AgentException(ApiError.BAD_REQUEST, "malformed request");
      case 404 -> new AgentException(ApiError.NOT_FOUND, "not found");
      default -> new AgentException(ApiError.INTERNAL, "request failed with status " + status);
    };
  }

  private static void json(RoutingContext context, int status, Object body) {
    String encoded = body instanceof JsonObject object ? object.encode() : ((JsonArray) body).encode();
    context.response().setStatusCode(status).putHeader("content-type", "application/json").end(encoded);
  }
}
