package io.ums.agent.image;

import io.vertx.core.json.JsonObject;

/** One layer of an image: an uncompressed tar blob, identified by its digest. */
public record ImageLayer(Digest digest, long size) {
  public static final String MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar";

  public JsonObject toJson() {
    return new JsonObject().put("digest", digest.toString()).put("size", size);
  }

  public static ImageLayer fromJson(JsonObject json) {
    return new ImageLayer(Digest.parse(json.getString("digest")), json.getLong("size"));
  }
}
