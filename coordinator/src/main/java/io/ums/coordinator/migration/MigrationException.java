package io.ums.coordinator.migration;

import io.vertx.core.json.JsonObject;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** An expected failure: a code and a message meant for the client. Carries no stack trace. */
public final class MigrationException extends RuntimeException {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationException.class);
  private final Failure failure;

  public MigrationException(Failure failure, String message) {
    super(message, null, false, false);
    this.failure = failure;
  }

  public static MigrationException badField(String field, String problem) {
    return new MigrationException(Failure.BAD_REQUEST, field + ": " + problem);
  }

  /**
   * A bug, not an expected failure: logged with its stack trace under an incident id, which is all the
   * client sees (never the exception's text).
   */
  public static MigrationException internal(Throwable bug) {
    String incident = UUID.randomUUID().toString().substring(0, 8);
    LOG.error("internal error {}", incident, bug);
    return new MigrationException(Failure.INTERNAL, "internal error " + incident + " (see the coordinator log)");
  }

  /**
   * A text field as the API takes it: control characters (a NUL byte above all) would reach file names,
   * process arguments, URLs and Kubernetes calls, so they are refused here with the field named.
   */
  public static String checkedText(String field, String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        String which = c == 0 ? "NUL" : String.format("U+%04X", (int) c);
        throw badField(field, "must not contain control characters (" + which + " at index " + i + ")");
      }
    }
    return text;
  }

  public Failure failure() {
    return failure;
  }

  public JsonObject toJson() {
    return new JsonObject().put("error", failure.name()).put("message", getMessage());
  }
}
