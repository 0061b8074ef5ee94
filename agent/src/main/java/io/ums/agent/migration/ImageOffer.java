package io.ums.agent.migration;

import io.ums.agent.image.ImageLayer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * A container's image as the source offers it before the freeze ({@link Channels#IMAGE_OFFER}'s metadata):
 * its name, manifest and config (the JSON documents, as stored) and its layers; the destination answers with
 * {@link #wanted} on {@link Channels#LAYERS_WANTED}.
 */
record ImageOffer(String image, String manifest, String config, List<ImageLayer> layers) {
  JsonObject toJson() {
    JsonArray layerArray = new JsonArray();
    layers.forEach(layer -> layerArray.add(layer.toJson()));
    return new JsonObject().put("image", image).put("manifest", manifest).put("config", config)
        .put("layers", layerArray);
  }

  static ImageOffer fromJson(JsonObject json) {
    List<ImageLayer> layers = json.getJsonArray("layers", new JsonArray()).stream()
        .map(layer -> ImageLayer.fromJson((JsonObject) layer)).toList();
    return new ImageOffer(json.getString("image"), json.getString("manifest"), json.getString("config"), layers);
  }

  /** The destination's answer: the digests of the layers it lacks. */
  static JsonObject wanted(List<String> missingDigests) {
    return new JsonObject().put("missing", new JsonArray(List.copyOf(missingDigests)));
  }

  /** The source's reading of {@link #wanted}. */
  static List<String> wantedDigests(JsonObject json) {
    return json.getJsonArray("missing", new JsonArray()).stream().map(String::valueOf).toList();
  }
}
