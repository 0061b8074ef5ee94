package io.ums.coordinator.testing;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/** A plain blocking HTTP client for tests (runs on the test thread, never on an event loop). */
public final class Http {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();

  public record Answer(int status, String body, java.net.http.HttpHeaders headers) {
    public JsonObject json() {
      return new JsonObject(body);
    }
  }

  private Http() {}

  public static Answer get(String url) {
    return send(HttpRequest.newBuilder(URI.create(url)).GET());
  }

  public static Answer delete(String url) {
    return send(HttpRequest.newBuilder(URI.create(url)).DELETE());
  }

  public static Answer post(String url, String body) {
    return send(HttpRequest.newBuilder(URI.create(url))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  public static Answer post(String url, JsonObject body) {
    return post(url, body.encode());
  }

  /** Reads a Server-Sent Events stream to its end; returns the data objects in order. */
  public static List<JsonObject> events(String url) {
    try {
      HttpResponse<Stream<String>> response = CLIENT.send(
          HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
          HttpResponse.BodyHandlers.ofLines());
      if (response.statusCode() != 200) {
        throw new AssertionError("SSE " + url + " answered " + response.statusCode());
      }
      List<JsonObject> events = new ArrayList<>();
      try (Stream<String> lines = response.body()) {
        Iterator<String> it = lines.iterator();
        while (it.hasNext()) {
          String line = it.next();
          if (line.startsWith("data: ")) {
            events.add(new JsonObject(line.substring(6)));
          }
        }
      }
      return events;
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static Answer send(HttpRequest.Builder request) {
    try {
      HttpResponse<String> response =
          CLIENT.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
      return new Answer(response.statusCode(), response.body(), response.headers());
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
