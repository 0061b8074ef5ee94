package io.ums.agent.error;

/**
 * The error codes of the control API and the HTTP status each one answers with. The {@code error} field of
 * an error body is the constant's name.
 */
public enum ApiError {
  BAD_REQUEST(400),
  NOT_FOUND(404),
  CONFLICT(409),
  /** The node holds as many receive sessions as it is configured to (--max-receive-sessions). */
  TOO_MANY_SESSIONS(429),
  /** The agent is shutting down: no new sessions. */
  DRAINING(503),
  /** CRIU is missing or too old: no migrations. */
  CRIU_UNAVAILABLE(503),
  /** Some part of the agent that the request needs is not running (e.g. the migration engine). */
  UNAVAILABLE(503),
  /** The node's setup cannot do this (e.g. its image store has no such operation). */
  NOT_IMPLEMENTED(501),
  PEER_FAILED(502),
  TIMEOUT(504),
  INTERNAL(500);

  private final int status;

  ApiError(int status) {
    this.status = status;
  }

  public int status() {
    return status;
  }
}
