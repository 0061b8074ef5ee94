package io.ums.coordinator.error;

import io.vertx.core.json.JsonObject;

/** An expected failure: a code and a message meant for the client. Carries no stack trace. */
public final class MigrationException extends RuntimeException {
  private final Failure failure;

  public MigrationException(Failure failure, String message) {
    super(message, null, false, false);
    this.failure = failure;
  }

  public static MigrationException badField(String field, String problem) {
    return new MigrationException(Failure.BAD_REQUEST, field + ": " + problem);
  }

  public Failure failure() {
    return failure;
  }

  public JsonObject toJson() {
    return new JsonObject().put("error", failure.name()).put("message", getMessage());
  }
}
