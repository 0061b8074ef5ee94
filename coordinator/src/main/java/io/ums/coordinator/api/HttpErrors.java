package io.ums.coordinator.api;

import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * The one place where failures become HTTP answers: {"error": CODE, "message": text} with the
 * status of the failure code. Expected failures are answered as they are; anything else is a bug,
 * logged with its stack trace under an id the client sees (the client never sees a stack trace).
 */
public final class HttpErrors {
  private HttpErrors() {}

  public static MigrationException classify(Throwable failure) {
    if (failure instanceof MigrationException expected) {
      return expected;
    }
    if (failure instanceof DecodeException) {
      return MigrationException.badField("body", "not valid JSON");
    }
    return MigrationException.internal(failure);
  }

  public static void respond(RoutingContext ctx, Throwable failure) {
    MigrationException error = classify(failure);
    HttpServerResponse response = ctx.response();
    if (response.headWritten()) {
      response.reset(); // a streaming answer already started: cut it, a status can no longer be sent
      return;
    }
    response
        .setStatusCode(error.failure().httpStatus())
        .putHeader("Content-Type", "application/json")
        .end(error.toJson().encode());
  }

  /** Router failure handler: also turns vertx-web's own status failures (404 route, 413 body) into JSON. */
  public static void handleRouterFailure(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure == null) {
      int status = ctx.statusCode();
      Failure code =
          switch (status) {
            case 400, 413, 415 -> Failure.BAD_REQUEST;
            case 404, 405 -> Failure.NOT_FOUND;
            default -> Failure.INTERNAL;
          };
      String message = status == 404 ? "no such endpoint: " + ctx.request().method() + " " + ctx.request().path()
          : "HTTP " + status;
      ctx.response()
          .setStatusCode(status)
          .putHeader("Content-Type", "application/json")
          .end(new JsonObject().put("error", code.name()).put("message", message).encode());
      return;
    }
    respond(ctx, failure);
  }
}
