package io.ums.bench.local;

import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * A small blocking JSON-over-HTTP client for the bench's own control calls (agents and coordinator). The
 * bench is a command-line harness with no event loop of its own, so plain blocking calls are the simple fit.
 * It holds this run's bearer token (random, made here): {@link UmsCluster} starts the agents and the
 * coordinator with it, and every call here carries it, so local runs go through the authenticated path.
 */
public final class JsonHttp {
  private final HttpClient client;
  private final BearerToken token = BearerToken.random();

  public JsonHttp() {
    this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  private JsonHttp(SSLContext tls) {
    this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).sslContext(tls).build();
  }

  /** A client that trusts the CA in {@code caFile} for https:// URLs (host names verified). Blocking. */
  public static JsonHttp trusting(Path caFile) {
    try {
      return new JsonHttp(ClientTls.trusting(caFile).verified().sslContext());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public record Reply(int status, String body) {
    public boolean ok() {
      return status / 100 == 2;
    }

    /** The body decoded (JsonObject, JsonArray, ...), or the raw text when it is not JSON. */
    public Object json() {
      try {
        return Json.decodeValue(body);
      } catch (DecodeException e) {
        return body;
      }
    }
  }

  /** A non-2xx answer, an unreachable peer or a timeout, with what the peer said. */
  public static final class HttpFailure extends RuntimeException {
    public HttpFailure(String message) {
      super(message);
    }
  }

  /** This run's token, for the agents' --control-token-file and the coordinator's token files. */
  public BearerToken token() {
    return token;
  }

  public Reply get(String url, Duration timeout) {
    return send(request(url, timeout).GET().build());
  }

  public Reply post(String url, Object body, Duration timeout) {
    return send(request(url, timeout)
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(Json.encode(body))).build());
  }

  public Reply delete(String url, Duration timeout) {
    return send(request(url, timeout).DELETE().build());
  }

  private HttpRequest.Builder request(String url, Duration timeout) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(timeout).header("Authorization", token.authorization());
  }

  /** Like {@link #post} but a non-2xx answer throws with the status and the peer's message. */
  public Reply postOk(String url, Object body, Duration timeout) {
    return requireOk("POST " + url, post(url, body, timeout));
  }

  public Reply getOk(String url, Duration timeout) {
    return requireOk("GET " + url, get(url, timeout));
  }

  private static Reply requireOk(String what, Reply reply) {
    if (!reply.ok()) {
      throw new HttpFailure(what + " -> " + reply.status() + ": " + abbreviate(reply.body()));
    }
    return reply;
  }

  private Reply send(HttpRequest request) {
    try {
      HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
      return new Reply(response.statusCode(), response.body());
    } catch (IOException e) {
      throw new HttpFailure(request.method() + " " + request.uri() + " failed: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpFailure(request.method() + " " + request.uri() + " interrupted");
    }
  }

  private static String abbreviate(String text) {
    return text.length() > 500 ? text.substring(0, 500) + "..." : text;
  }
}
