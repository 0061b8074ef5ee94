package io.ums.coordinator.api;

import io.ums.coordinator.api.ApiAccess.Need;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.migration.ClusterDescriber;
import io.ums.coordinator.migration.EventType;
import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.Migration;
import io.ums.coordinator.migration.MigrationException;
import io.ums.coordinator.migration.MigrationRequest;
import io.ums.coordinator.migration.MigrationService;
import io.ums.coordinator.migration.ReservationService;
import io.ums.coordinator.peer.CoordinatorClient;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
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
  private final ApiAccess access;

  public CoordinatorRouter(MigrationService migrations, ReservationService reservations, ClusterDescriber describer,
                           Cluster cluster, ApiAccess access) {
    this.access = access;
    this.migrations = migrations;
    this.reservations = reservations;
    this.describer = describer;
    this.cluster = cluster;
  }

  public Router create(Vertx vertx) {
    Router router = Router.router(vertx);
    on(router.get("/"), Need.EITHER_TOKEN, ctx -> json(ctx, 200, describer.describe()));
    on(router.get("/healthcheck"), Need.NOTHING, ctx -> json(ctx, 200, Future.succeededFuture(
        new JsonObject().put("status", "UP").put("mode", cluster.mode()).put("clusterId", describer.clusterId()))));
    on(router.get("/list"), Need.API_TOKEN, this::list);
    on(router.post("/migrate"), Need.API_TOKEN, this::migrateBlocking);
    on(router.post("/migrations"), Need.API_TOKEN, this::migrateAsync);
    on(router.get("/migrations"), Need.API_TOKEN, ctx -> json(ctx, 200, Future.succeededFuture(
        new JsonObject().put("migrations", migrations.summaries()))));
    on(router.get("/migrations/:id"), Need.API_TOKEN,
        ctx -> json(ctx, 200, Future.succeededFuture(find(ctx).toJson())));
    on(router.get("/migrations/:id/events"), Need.API_TOKEN, ctx -> stream(ctx, find(ctx)));
    on(router.get("/demo"), Need.API_TOKEN, this::demo);
    on(router.get("/frontman/:namespace/:name"), Need.NOTHING, this::frontman);
    on(router.post(CoordinatorClient.RESERVATIONS), Need.PEER_TOKEN,
        ctx -> json(ctx, 201, reservations.reserve(body(ctx))));
    on(router.get(CoordinatorClient.RESERVATIONS + "/:id"), Need.PEER_TOKEN,
        ctx -> json(ctx, 200, reservations.state(ctx.pathParam("id"))));
    on(router.post(CoordinatorClient.RESERVATIONS + "/:id/commit"), Need.PEER_TOKEN,
        ctx -> json(ctx, 200, reservations.commit(ctx.pathParam("id"),
            ctx.body().length() == 0 ? new JsonObject() : body(ctx))));
    on(router.delete(CoordinatorClient.RESERVATIONS + "/:id"), Need.PEER_TOKEN,
        ctx -> reservations.release(ctx.pathParam("id"))
            .onSuccess(done -> ctx.response().setStatusCode(204).end())
            .onFailure(failure -> HttpErrors.respond(ctx, failure)));
    router.route().last().handler(ctx -> ctx.fail(404));
    router.route().failureHandler(HttpErrors::handleRouterFailure);
    return router;
  }

  /**
   * One route: its body (vertx-web reads bodies before any other handler), its access check (the router
   * matched the route on the normalized path, so the check is this route's whatever the path looked like),
   * then the handler.
   */
  private void on(Route route, Need need, Handler<RoutingContext> handler) {
    route.handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES)).handler(access.check(need)).handler(handler);
  }

  private void list(RoutingContext ctx) {
    String namespace = ctx.queryParams().get("namespace");
    json(ctx, 200, cluster.list(namespace == null ? MigrationRequest.DEFAULT_NAMESPACE
            : MigrationException.checkedText("namespace", namespace))
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
