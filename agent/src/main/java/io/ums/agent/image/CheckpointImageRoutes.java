package io.ums.agent.image;

import io.ums.agent.error.AgentException;
import io.ums.agent.error.ErrorResponses;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Function;

/**
 * What becomes of a checkpoint image once the coordinator knows whether its pod runs. Both take
 * {@code {"image": name}}, a name this agent gave a checkpoint image (else 400).
 * <ul>
 *   <li>{@code POST /v1/checkpoint-images/retire}: the destination pod restored from it is Ready, so the image now
 *       starts its container afresh and the checkpoint leaves the node ({@link CheckpointImages#retire}). Answers
 *       {@code {"image", "startsFrom"?, "removed": [...]}}; 404 without such an image, 409 when the image the
 *       checkpoint was taken from is missing (the checkpoint is kept), 501 where the store is not containerd.</li>
 *   <li>{@code POST /v1/checkpoint-images/discard}: no pod starts from it (the destination pod did not get Ready);
 *       the image is removed ({@link CheckpointImages#discard}). Answers {@code {"image", "removed": [...]}},
 *       {@code removed} empty when there was no such image.</li>
 * </ul>
 */
public final class CheckpointImageRoutes {
  private final Vertx vertx;
  private final CheckpointImages images;
  private final CheckpointImageLedger ledger;

  public CheckpointImageRoutes(Vertx vertx, CheckpointImages images, CheckpointImageLedger ledger) {
    this.vertx = vertx;
    this.images = images;
    this.ledger = ledger;
  }

  /** Adds the route to the control API's router (whose body handler and catch-all are already in place). */
  public void mount(Router router) {
    router.post("/v1/checkpoint-images/retire").handler(context -> answer(context, image -> {
      CheckpointImages.Retirement retired = images.retire(image);
      ledger.settled(image);
      JsonObject answer = new JsonObject().put("image", image).put("removed", new JsonArray(retired.removed()));
      retired.startsFrom().ifPresent(base -> answer.put("startsFrom", base));
      return answer;
    }));
    router.post("/v1/checkpoint-images/discard").handler(context -> answer(context, image -> {
      JsonArray removed = new JsonArray(images.discard(image));
      ledger.settled(image);
      return new JsonObject().put("image", image).put("removed", removed);
    }));
  }

  /** Runs {@code action} on the body's image name on a worker (it runs ctr) and answers its JSON with 200. */
  private void answer(RoutingContext context, Function<String, JsonObject> action) {
    JsonObject body;
    try {
      body = context.body().asJsonObject();
    } catch (RuntimeException e) {
      body = null;
    }
    if (body == null || !(body.getValue("image") instanceof String image) || image.isBlank()) {
      ErrorResponses.send(context, AgentException.badField("image", "required, the checkpoint image's name"));
      return;
    }
    vertx.executeBlocking(() -> action.apply(image), false)
        .onSuccess(answer -> context.response().setStatusCode(200).putHeader("content-type", "application/json")
            .end(answer.encode()))
        .onFailure(failure -> ErrorResponses.send(context, ImageRoutes.classify(failure)));
  }
}
