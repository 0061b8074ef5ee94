package io.ums.agent.error;

import io.vertx.core.json.JsonObject;

/** Why a migration did not complete: a code for programs and a message for people. */
public record MigrationFailure(Code code, String message) {
  public enum Code {
    DESTINATION_UNREACHABLE,
    AUTH_FAILED,
    /** The destination's session was reserved for an encrypted transfer and the source connected in clear. */
    TLS_REQUIRED,
    DUMP_FAILED,
    CONNECTION_LOST,
    CHECKSUM_MISMATCH,
    PROTOCOL_ERROR,
    PAGE_SERVER_FAILED,
    RESTORE_FAILED,
    SOURCE_GONE,
    TIMEOUT,
    ABORTED,
    SHUTTING_DOWN,
    ROLLBACK_FAILED,
    /** A container image layer's bytes did not hash to the digest it was announced with. */
    LAYER_DIGEST_MISMATCH,
    /** The destination's image store refused or lost what a container migration needs. */
    IMAGE_STORE_FAILED,
    /** The kubelet's checkpoint API could not be reached (connection refused, TLS, timeout). */
    KUBELET_UNREACHABLE,
    /** The kubelet refused the agent's credentials (401/403): RBAC create on nodes/checkpoint is missing. */
    KUBELET_FORBIDDEN,
    /** The kubelet knows no such pod/container, or its ContainerCheckpoint feature gate is off (404). */
    KUBELET_NOT_FOUND,
    /** The kubelet (or the runtime under it) failed the checkpoint, or its archive is unusable. */
    KUBELET_FAILED,
    /**
     * Post-copy broke before the last page arrived (link, source or destination lost): the destination's copy
     * was killed and the source resumed from its freeze point; the status's postCopy.outcome says so.
     */
    POST_COPY_BROKEN,
    /** The destination's session directory (tmpfs) is full: the checkpoint does not fit there. */
    DESTINATION_NO_SPACE,
    /** The workload holds something that cannot move (a terminal, a FIFO): refused before the freeze. */
    UNMOVABLE_RESOURCE,
    INTERNAL
  }

  public static MigrationFailure of(Code code, String message) {
    return new MigrationFailure(code, message);
  }

  public JsonObject toJson() {
    return new JsonObject().put("code", code.name()).put("message", message);
  }

  public static MigrationFailure fromJson(JsonObject json) {
    Code code;
    try {
      code = Code.valueOf(json.getString("code", Code.INTERNAL.name()));
    } catch (IllegalArgumentException e) {
      code = Code.INTERNAL;
    }
    return new MigrationFailure(code, json.getString("message", ""));
  }

  /** Carries a failure through a failed Future. */
  public static final class Exception extends RuntimeException {
    private final MigrationFailure failure;

    public Exception(MigrationFailure failure) {
      super(failure.code() + ": " + failure.message(), null, false, false);
      this.failure = failure;
    }

    public Exception(Code code, String message) {
      this(new MigrationFailure(code, message));
    }

    public MigrationFailure failure() {
      return failure;
    }
  }
}
