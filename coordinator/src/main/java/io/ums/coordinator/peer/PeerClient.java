package io.ums.coordinator.peer;

import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.time.Duration;
import java.util.Optional;

/**
 * JSON over HTTP to a peer (an agent or another coordinator). Every failure comes back as a
 * {@link MigrationException}: the peer's own error code when it is one we share (404, 409, 504),
 * otherwise PEER_FAILED (502) with the peer's message, prefixed by who the peer is. {@link AgentClient} and
 * {@link CoordinatorClient} each send their own kind of peer's bearer token ({@link #toAgents()},
 * {@link #toCoordinator}).
 */
public final class PeerClient {
  private final WebClient client;
  private final Duration requestTimeout;
  private final PeerCredentials credentials;
  private final Optional<BearerToken> bearer;

  public PeerClient(WebClient client, Duration requestTimeout) {
    this(client, requestTimeout, PeerCredentials.none());
  }

  public PeerClient(WebClient client, Duration requestTimeout, PeerCredentials credentials) {
    this(client, requestTimeout, credentials, Optional.empty());
  }

  private PeerClient(WebClient client, Duration requestTimeout, PeerCredentials credentials,
                     Optional<BearerToken> bearer) {
    this.client = client;
    this.requestTimeout = requestTimeout;
    this.credentials = credentials;
    this.bearer = bearer;
  }

  /** The same client, sending the agents' control token. */
  PeerClient toAgents() {
    return new PeerClient(client, requestTimeout, credentials, credentials.agentToken());
  }

  /** The same client, sending this token (the one {@link DestinationPolicy} chose for a destination). */
  PeerClient toCoordinator(Optional<BearerToken> token) {
    return new PeerClient(client, requestTimeout, credentials, token);
  }

  PeerCredentials credentials() {
    return credentials;
  }

  public Future<JsonObject> getObject(String peer, String url) {
    return send(peer, HttpMethod.GET, url, null).map(PeerClient::asObject);
  }

  /** A GET that must answer within {@code timeout} (a status poll that tells a lost peer). */
  public Future<JsonObject> getObject(String peer, String url, Duration timeout) {
    return send(peer, HttpMethod.GET, url, null, timeout).map(PeerClient::asObject);
  }

  public Future<JsonArray> getArray(String peer, String url) {
    return send(peer, HttpMethod.GET, url, null)
        .map(buffer -> buffer == null || buffer.length() == 0 ? new JsonArray() : buffer.toJsonArray());
  }

  public Future<JsonObject> post(String peer, String url, JsonObject body) {
    return post(peer, url, body, requestTimeout);
  }

  /** A POST whose answer may take longer than a single request usually does (it waits for something). */
  public Future<JsonObject> post(String peer, String url, JsonObject body, Duration timeout) {
    return send(peer, HttpMethod.POST, url, body, timeout).map(PeerClient::asObject);
  }

  public Future<Void> delete(String peer, String url) {
    return send(peer, HttpMethod.DELETE, url, null).mapEmpty();
  }

  private Future<Buffer> send(String peer, HttpMethod method, String url, JsonObject body) {
    return send(peer, method, url, body, requestTimeout);
  }

  private Future<Buffer> send(String peer, HttpMethod method, String url, JsonObject body, Duration timeout) {
    HttpRequest<Buffer> request =
        client.requestAbs(method, url).timeout(timeout.toMillis()).putHeader("Accept", "application/json");
    bearer.ifPresent(token -> request.putHeader("Authorization", token.authorization()));
    Future<HttpResponse<Buffer>> response =
        body == null ? request.send() : request.sendJsonObject(body);
    return response.transform(
        ar -> {
          if (ar.failed()) {
            return Future.failedFuture(
                new MigrationException(
                    Failure.PEER_FAILED,
                    peer + " unreachable (" + method + " " + url + "): " + describe(ar.cause())));
          }
          HttpResponse<Buffer> answer = ar.result();
          if (answer.statusCode() / 100 == 2) {
            return Future.succeededFuture(answer.body());
          }
          return Future.failedFuture(fromErrorAnswer(peer, answer));
        });
  }

  private static MigrationException fromErrorAnswer(String peer, HttpResponse<Buffer> answer) {
    String code = null;
    String message = answer.statusMessage();
    try {
      JsonObject error = answer.bodyAsJsonObject();
      if (error != null) {
        code = error.getString("error");
        message = error.getString("message", message);
      }
    } catch (DecodeException | ClassCastException notJson) {
      Buffer text = answer.body();
      if (text != null && text.length() > 0) {
        message = text.toString().strip();
      }
    }
    String text = peer + ": " + message;
    Failure failure =
        switch (answer.statusCode()) {
          case 404 -> "UNKNOWN_WORKLOAD".equals(code) ? Failure.UNKNOWN_WORKLOAD : Failure.NOT_FOUND;
          case 409 -> sharedConflict(code);
          case 504 -> Failure.PHASE_TIMEOUT;
          default -> Failure.PEER_FAILED;
        };
    return new MigrationException(failure, text);
  }

  private static Failure sharedConflict(String code) {
    if (code != null) {
      for (Failure f : Failure.values()) {
        if (f.name().equals(code) && f.httpStatus() == 409) {
          return f;
        }
      }
    }
    return Failure.ALREADY_MIGRATING;
  }

  private static JsonObject asObject(Buffer buffer) {
    if (buffer == null || buffer.length() == 0) {
      return new JsonObject();
    }
    try {
      return buffer.toJsonObject();
    } catch (DecodeException e) {
      throw new MigrationException(Failure.PEER_FAILED, "peer answered something that is not JSON");
    }
  }

  private static String describe(Throwable cause) {
    Optional<String> tls = ClientTls.describeFailure(cause);
    if (tls.isPresent()) {
      return tls.get();
    }
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }
}
