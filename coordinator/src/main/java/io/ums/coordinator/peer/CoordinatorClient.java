package io.ums.coordinator.peer;

import io.ums.protocol.security.BearerToken;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;

/**
 * The destination coordinator as seen from the source coordinator: GET / (compatibility) and the
 * reservation endpoints. Used even when both are the same process, so there is one code path.
 */
public final class CoordinatorClient {
  public static final String RESERVATIONS = "/v1/reservations";

  private final PeerClient http;
  private final String baseUrl;

  /** {@code token}: what {@link DestinationPolicy#tokenFor} allows for this destination. */
  public CoordinatorClient(PeerClient http, String baseUrl, Optional<BearerToken> token) {
    this.http = http.toCoordinator(token);
    this.baseUrl = baseUrl;
  }

  private String peer() {
    return "destination coordinator " + baseUrl;
  }

  public Future<JsonObject> describe() {
    return http.getObject(peer(), baseUrl + "/");
  }

  public Future<JsonObject> reserve(JsonObject reservationRequest) {
    return http.post(peer(), baseUrl + RESERVATIONS, reservationRequest);
  }

  public Future<JsonObject> commit(String reservationId, JsonObject outcome) {
    return http.post(peer(), baseUrl + RESERVATIONS + "/" + reservationId + "/commit", outcome);
  }

  /** {@code timeout}: a kubelet commit answers only once the restored pod is Ready. */
  public Future<JsonObject> commit(String reservationId, JsonObject outcome, Duration timeout) {
    return http.post(peer(), baseUrl + RESERVATIONS + "/" + reservationId + "/commit", outcome, timeout);
  }

  /** GET /v1/reservations/{id}: each receive session's phase on the destination agent. */
  public Future<JsonObject> reservation(String reservationId) {
    return http.getObject(peer(), baseUrl + RESERVATIONS + "/" + reservationId);
  }

  public Future<Void> release(String reservationId) {
    return http.delete(peer(), baseUrl + RESERVATIONS + "/" + reservationId);
  }
}
