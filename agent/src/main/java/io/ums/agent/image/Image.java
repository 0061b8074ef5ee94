package io.ums.agent.image;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * An image in the store: its name (the index's {@code org.opencontainers.image.ref.name}), manifest and
 * config digests and its layers, bottom first.
 */
public record Image(String name, Digest manifest, Digest config, List<ImageLayer> layers) {
  public Image {
    layers = List.copyOf(layers);
  }

  public long layerBytes() {
    return layers.stream().mapToLong(ImageLayer::size).sum();
  }

  public JsonObject toJson() {
    JsonArray layerArray = new JsonArray();
    layers.forEach(layer -> layerArray.add(layer.toJson()));
    return new JsonObject().put("name", name).put("manifest", manifest.toString()).put("config", config.toString())
        .put("layers", layerArray).put("size", layerBytes());
  }
}
