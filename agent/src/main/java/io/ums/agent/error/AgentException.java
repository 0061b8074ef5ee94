package io.ums.agent.error;

/**
 * An expected failure with an API error code and a human message: the control API answers
 * {@code {"error": code, "message": message}} with the code's status, and logs no stack trace. The
 * migration engine may fail its futures with one (e.g. {@link ApiError#PEER_FAILED}) to choose the status.
 */
public class AgentException extends RuntimeException {
  private final ApiError error;

  public AgentException(ApiError error, String message) {
    super(message, null, false, false);
    this.error = error;
  }

  public ApiError error() {
    return error;
  }

  /** A 400 naming the offending field first, e.g. {@code badField("destination.token", "required")}. */
  public static AgentException badField(String field, String problem) {
    return new AgentException(ApiError.BAD_REQUEST, field + ": " + problem);
  }
}
