package io.ums.protocol;

/** A protocol failure as a value: a {@link ProtocolError} code plus a human message. */
public class UmsProtocolException extends RuntimeException {
  private final ProtocolError error;

  public UmsProtocolException(ProtocolError error, String message) {
    super(error + ": " + message, null, false, false);
    this.error = error;
  }

  /** For a failure caused by an exception on this side, e.g. an application handler that threw. */
  public UmsProtocolException(ProtocolError error, String message, Throwable cause) {
    super(error + ": " + message, cause, false, false);
    this.error = error;
  }

  public ProtocolError error() {
    return error;
  }
}
