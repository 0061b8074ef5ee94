package io.ums.coordinator.api;

import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;

/** A Server-Sent Events stream: one "event:" + "data:" block per migration event. */
final class Sse {
  private final HttpServerResponse response;

  Sse(HttpServerResponse response) {
    this.response = response;
    response
        .setChunked(true)
        .putHeader("Content-Type", "text/event-stream")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("X-Accel-Buffering", "no");
  }

  void send(String event, JsonObject data) {
    if (!response.ended() && !response.closed()) {
      response.write("event: " + event + "\ndata: " + data.encode() + "\n\n");
    }
  }

  void end() {
    if (!response.ended() && !response.closed()) {
      response.end();
    }
  }
}
