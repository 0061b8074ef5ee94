package io.ums.coordinator.testing;

import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;

/**
 * A plain blocking HTTP client for tests (runs on the test thread, never on an event loop). The static
 * methods send no credentials; {@link #as} gives a client that sends a bearer token and trusts a CA.
 */
public final class Http {
  private static final Client ANONYMOUS = new Client(Optional.empty(), null);

  public record Answer(int status, String body, java.net.http.HttpHeaders headers) {
    public JsonObject json() {
      return new JsonObject(body);
    }
  }

  private Http() {}

  /** A client sending {@code Authorization: Bearer <token>} (when given) and trusting the CA (when given). */
  public static Client as(Optional<BearerToken> token, Optional<Path> caFile) {
    try {
      return new Client(token, caFile.isPresent() ? ClientTls.trusting(caFile.get()).sslContext() : null);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  public static Answer get(String url) {
    return ANONYMOUS.get(url);
  }

  public static Answer delete(String url) {
    return ANONYMOUS.delete(url);
  }

  public static Answer post(String url, String body) {
    return ANONYMOUS.post(url, body);
  }

  public static Answer post(String url, JsonObject body) {
    return ANONYMOUS.post(url, body);
  }

  /** Reads a Server-Sent Events stream to its end; returns the data objects in order. */
  public static List<JsonObject> events(String url) {
    return ANONYMOUS.events(url);
  }

  /** One set of credentials. */
  public static final class Client {
    private final Optional<BearerToken> token;
    private final HttpClient client;

    private Client(Optional<BearerToken> token, SSLContext tls) {
      this.token = token;
      HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
          .followRedirects(HttpClient.Redirect.NEVER);
      if (tls != null) {
        builder.sslContext(tls);
      }
      this.client = builder.build();
    }

    public Answer get(String url) {
      return send(request(url).GET());
    }

    public Answer delete(String url) {
      return send(request(url).DELETE());
    }

    public Answer post(String url, String body) {
      return send(request(url)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    public Answer post(String url, JsonObject body) {
      return post(url, body.encode());
    }

    /** Reads a Server-Sent Events stream to its end; returns the data objects in order. */
    public List<JsonObject> events(String url) {
      try {
        HttpResponse<Stream<String>> response = client.send(
            request(url).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofLines());
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

    private HttpRequest.Builder request(String url) {
      HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(url));
      token.ifPresent(t -> builder.header("Authorization", t.authorization()));
      return builder;
    }

    private Answer send(HttpRequest.Builder request) {
      try {
        HttpResponse<String> response =
            client.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), response.body(), response.headers());
      } catch (IOException e) {
        throw new AssertionError(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
