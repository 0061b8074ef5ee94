package io.ums.agent.criu;

/** A CRIU step that failed, with the tail of CRIU's own log as the human part of the message. */
public final class CriuException extends RuntimeException {
  private final String step;

  public CriuException(String step, String message) {
    super(message);
    this.step = step;
  }

  /** "dump", "page-server", "restore". */
  public String step() {
    return step;
  }
}
