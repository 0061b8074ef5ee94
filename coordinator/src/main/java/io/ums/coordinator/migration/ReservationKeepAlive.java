package io.ums.coordinator.migration;

import io.ums.coordinator.peer.CoordinatorClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * The destination settles a reservation nobody works on for its phase timeout (the source coordinator
 * died, see {@link AbandonedReservations}); a migration may spend longer than that between reserving
 * and committing (a slow start of the source agent, a loaded machine), so while it holds the
 * reservation its source coordinator asks about it ({@code GET /v1/reservations/{id}}) four times per
 * the shorter of the destination's limit ({@code abandonedAfterMs} in the reservation) and its own
 * phase timeout. One missed is no loss.
 */
final class ReservationKeepAlive {
  private final Vertx vertx;
  private final long timer;

  private ReservationKeepAlive(Vertx vertx, long timer) {
    this.vertx = vertx;
    this.timer = timer;
  }

  static ReservationKeepAlive start(Vertx vertx, CoordinatorClient destination, JsonObject reservation,
      Duration phaseTimeout) {
    long limitMs = Math.min(reservation.getLong("abandonedAfterMs", phaseTimeout.toMillis()), phaseTimeout.toMillis());
    String id = reservation.getString("reservationId");
    return new ReservationKeepAlive(vertx, vertx.setPeriodic(Math.max(1, limitMs / 4), t -> destination.reservation(id)));
  }

  void stop() {
    vertx.cancelTimer(timer);
  }
}
