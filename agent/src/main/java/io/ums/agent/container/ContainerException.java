package io.ums.agent.container;

/** A container operation that failed, with a code the API and the migration status report. */
public final class ContainerException extends RuntimeException {
  public enum Code {
    /** Bad spec: unknown runtime, missing image, empty command (400). */
    INVALID,
    /** Unknown container (404). */
    NOT_FOUND,
    /** runc/podman refused or failed to start the container (500). */
    START_FAILED,
    CHECKPOINT_FAILED,
    RESTORE_FAILED,
    /** Mounting or unmounting the root filesystem failed (500). */
    ROOTFS_FAILED
  }

  private final Code code;

  public ContainerException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public Code code() {
    return code;
  }
}
