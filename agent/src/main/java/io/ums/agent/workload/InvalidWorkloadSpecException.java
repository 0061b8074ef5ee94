package io.ums.agent.workload;

/** A workload spec that cannot run here; {@link #field()} names the offending field (the API answers 400). */
public final class InvalidWorkloadSpecException extends RuntimeException {
  private final String field;

  public InvalidWorkloadSpecException(String field, String message) {
    super(field + ": " + message);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
