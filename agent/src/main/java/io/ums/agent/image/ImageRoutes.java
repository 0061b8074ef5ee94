package io.ums.agent.image;

import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.error.ErrorResponses;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;

/**
 * The image routes of the control API: {@code POST /v1/images {"name", "rootfs": "/path/to/rootfs.tar",
 * "base"?}} (the tarball is a file on the agent's host: there is no registry; the body limit is too small
 * for uploads), {@code GET /v1/images}, {@code GET /v1/images/{name}}, {@code DELETE /v1/images/{name}}.
 */
public final class ImageRoutes {
  private final ImageService images;

  public ImageRoutes(ImageService images) {
    this.images = images;
  }

  /** Adds the routes to the control API's router (whose body handler and catch-all are already in place). */
  public void mount(Router router) {
    router.post("/v1/images").handler(this::importImage);
    router.get("/v1/images").handler(context -> answer(context, 200,
        images.list().map(list -> {
          JsonArray array = new JsonArray();
          list.forEach(image -> array.add(image.toJson()));
          return array;
        })));
    router.get("/v1/images/:name").handler(context -> answer(context, 200,
        images.get(context.pathParam("name")).map(Image::toJson)));
    router.delete("/v1/images/:name").handler(context -> images.delete(context.pathParam("name"))
        .onSuccess(ignored -> context.response().setStatusCode(204).end())
        .onFailure(failure -> ErrorResponses.send(context, classify(failure))));
  }

  private void importImage(RoutingContext context) {
    JsonObject body;
    try {
      body = context.body().asJsonObject();
    } catch (DecodeException | ClassCastException e) {
      ErrorResponses.send(context, AgentException.badField("body", "must be a JSON object"));
      return;
    }
    if (body == null) {
      ErrorResponses.send(context, AgentException.badField("body", "required, a JSON object"));
      return;
    }
    String name = body.getValue("name") instanceof String text ? text : null;
    String rootfs = body.getValue("rootfs") instanceof String text ? text : null;
    Object base = body.getValue("base");
    if (name == null || name.isBlank()) {
      ErrorResponses.send(context, AgentException.badField("name", "required, a non-empty string"));
    } else if (rootfs == null || !rootfs.startsWith("/")) {
      ErrorResponses.send(context, AgentException.badField("rootfs",
          "required, the absolute path of a rootfs tarball on the agent's host"));
    } else if (base != null && !(base instanceof String)) {
      ErrorResponses.send(context, AgentException.badField("base", "must be the name of an image in the store"));
    } else {
      answer(context, 201, images.importRootfs(name, Path.of(rootfs), (String) base).map(Image::toJson));
    }
  }

  private static void answer(RoutingContext context, int status, Future<?> result) {
    result.onSuccess(body -> context.response().setStatusCode(status).putHeader("content-type", "application/json")
            .end(body instanceof JsonObject object ? object.encode() : ((JsonArray) body).encode()))
        .onFailure(failure -> ErrorResponses.send(context, classify(failure)));
  }

  static Throwable classify(Throwable failure) {
    if (!(failure instanceof ImageStoreException store)) {
      return failure;
    }
    ApiError error = switch (store.code()) {
      case NOT_FOUND -> ApiError.NOT_FOUND;
      case INVALID, DIGEST_MISMATCH -> ApiError.BAD_REQUEST;
      case ALREADY_EXISTS, IN_USE, BASE_MISSING -> ApiError.CONFLICT;
      case UNSUPPORTED -> ApiError.NOT_IMPLEMENTED;
      case RUNTIME_UNAVAILABLE -> ApiError.UNAVAILABLE;
      case IO -> ApiError.INTERNAL;
    };
    return new AgentException(error, store.getMessage());
  }
}
