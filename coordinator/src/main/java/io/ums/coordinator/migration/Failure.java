package io.ums.coordinator.migration;

/** Why a request or a migration failed; each code has exactly one HTTP status (mapped in HttpErrors). */
public enum Failure {
  BAD_REQUEST(400),
  UNKNOWN_WORKLOAD(404),
  NOT_FOUND(404),
  /** A destinationUrl that is not a configured destination coordinator (its peer token would leak). */
  DESTINATION_NOT_ALLOWED(403),
  ALREADY_MIGRATING(409),
  NOT_MIGRATABLE(409),
  INCOMPATIBLE_DESTINATION(409),
  NO_DESTINATION(409),
  PEER_FAILED(502),
  UNAVAILABLE(503),
  PHASE_TIMEOUT(504),
  INTERNAL(500);

  private final int httpStatus;

  Failure(int httpStatus) {
    this.httpStatus = httpStatus;
  }

  public int httpStatus() {
    return httpStatus;
  }
}
