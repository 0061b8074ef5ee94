package io.ums.coordinator.api;

import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.migration.ClusterDescriber;
import io.ums.coordinator.migration.EventType;
import io.ums.coordinator.migration.Migration;
import io.ums.coordinator.migration.MigrationRequest;
import io.ums.coordinator.migration.MigrationService;
import io.ums.coordinator.migration.ReservationService;
import io.ums.coordinator.peer.CoordinatorClient;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.HashMap;
import java.util.Map;

/** The coordinator's HTTP API (see issue 5 and the README). Handlers only translate; services decide. */
public final class CoordinatorRouter {
  private static final long MAX_BODY_BYTES = 1 << 20;

  private final MigrationService migrations;
  private final ReservationService reservations;
  private final ClusterDescriber describer;
  private final Cluster cluster;

  public CoordinatorRouter(
      MigrationService migrations, ReservationService reservations, ClusterDescriber describer, Cluster cluster) {
    this.migrations = migrations;
    this.reservations = reservations;
    this.describer = describer;
    this.cluster = cluster;
  }

  public Router create(Vertx vertx) {
    Router router = Router.router(vertx);
    router.route().handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
    router.get("/").handler(ctx -> json(ctx, 200, describer.describe()));
    router.get("/healthcheck").handler(ctx -> json(ctx, 200, Future.succeededFuture(
        new JsonObject().put("status", "UP").put("mode", cluster.mode()).put("clusterId", describer.clusterId()))));
    router.get("/list").handler(this::list);
    router.post("/migrate").handler(this::migrateBlocking);
    router.post("/migrations").handler(this::migrateAsync);
    router.get("/migrations").handler(ctx -> json(ctx, 200, Future.succeededFuture(
        new JsonObject().put("migrations", migrations.summaries()))));
    router.get("/migrations/:id").handler(ctx -> json(ctx, 200, Future.succeededFuture(find(ctx).toJson())));
    router.get("/migrations/:id/events").handler(ctx -> stream(ctx, find(ctx)));
    router.get("/demo").handler(this::demo);
    router.get("/frontman/:namespace/:name").handler(this::frontman);
    router.post(CoordinatorClient.RESERVATIONS).handler(ctx -> json(ctx, 201, reservations.reserve(body(ctx))));
    router.post(CoordinatorClient.RESERVATIONS + "/:id/commit")
        .handler(ctx -> json(ctx, 200, reservations.commit(ctx.pathParam("id"),
            ctx.body().length() == 0 ? new JsonObject() : body(ctx))));
    router.delete(CoordinatorClient.RESERVATIONS + "/:id")
        .handler(ctx -> reservations.release(ctx.pathParam("id"))
            .onSuccess(done -> ctx.response().setStatusCode(204).end())
            .onFailure(failure -> HttpErrors.respond(ctx, failure)));
    router.route().last().handler(ctx -> ctx.fail(404));
    router.route().failureHandler(HttpErrors::handleRouterFailure);
    return router;
  }

  private void list(RoutingContext ctx) {
    String namespace = ctx.queryParams().get("namespace");
    json(ctx, 200, cluster.list(namespace == null ? MigrationRequest.DEFAULT_NAMESPACE : namespace)
        .map(workloads -> new JsonObject().put("workloads", workloads)));
  }

  private void migrateBlocking(RoutingContext ctx) {
    json(ctx, 200, start(MigrationRequest.fromJson(body(ctx))).compose(Migration::outcome));
  }

  private void migrateAsync(RoutingContext ctx) {
    json(ctx, 202, start(MigrationRequest.fromJson(body(ctx))).map(m -> new JsonObject()
        .put("migrationId", m.id())
        .put("status", "/migrations/" + m.id())
        .put("events", "/migrations/" + m.id() + "/events")));
  }

  /** UMS's GET /demo: the query is the migration request, the answer the event stream. */
  private void demo(RoutingContext ctx) {
    Map<String, String> params = new HashMap<>();
    ctx.queryParams().forEach(params::put);
    start(MigrationRequest.fromParams(params))
        .onSuccess(migration -> stream(ctx, migration))
        .onFailure(failure -> HttpErrors.respond(ctx, failure));
  }

  private Future<Migration> start(MigrationRequest request) {
    return migrations.start(request);
  }

  private void stream(RoutingContext ctx, Migration migration) {
    Sse sse = new Sse(ctx.response());
    Handler<JsonObject> forward = new Handler<>() {
      @Override
      public void handle(JsonObject event) {
        String type = event.getString("type");
        sse.send(type, event);
        if (EventType.valueOf(type).terminal()) {
          sse.end();
        }
      }
    };
    ctx.response().closeHandler(closed -> migration.unsubscribe(forward));
    if (!migration.subscribe(forward)) {
      sse.end();
    }
  }

  /**
   * Like UMS's frontman: while namespace/name migrates, clients are told 425 (Too Early, retry);
   * once it has moved and a redirect URL was given, 301 to it.
   */
  private void frontman(RoutingContext ctx) {
    String namespace = ctx.pathParam("namespace");
    String name = ctx.pathParam("name");
    Migration migration = migrations.latestFor(namespace, name).orElseThrow(() ->
        new MigrationException(Failure.UNKNOWN_WORKLOAD, "no migration of " + namespace + "/" + name));
    if (!migration.finished()) {
      ctx.response().setStatusCode(425).putHeader("Retry-After", "1").end();
      return;
    }
    String redirect = migration.outcome().succeeded() ? migration.request().redirect().orElse(null) : null;
    if (redirect == null) {
      throw new MigrationException(Failure.NOT_FOUND, namespace + "/" + name + " has no redirect");
    }
    ctx.response().setStatusCode(301).putHeader("Location", redirect).end();
  }

  private Migration find(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    return migrations.find(id).orElseThrow(() -> new MigrationException(Failure.NOT_FOUND, "no migration " + id));
  }

  private static JsonObject body(RoutingContext ctx) {
    if (ctx.body().length() == 0) {
      throw MigrationException.badField("body", "expected a JSON object");
    }
    try {
      return ctx.body().asJsonObject();
    } catch (ClassCastException notAnObject) {
      throw MigrationException.badField("body", "expected a JSON object");
    }
  }

  private static void json(RoutingContext ctx, int status, Future<JsonObject> answer) {
    answer.onComplete(ar -> {
      if (ar.failed()) {
        HttpErrors.respond(ctx, ar.cause());
      } else {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(ar.result().encode());
      }
    });
  }
}
