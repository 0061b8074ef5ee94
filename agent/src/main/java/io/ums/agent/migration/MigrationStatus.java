package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.vertx.core.json.JsonObject;

/**
 * The live status of one migration as GET /v1/migrations/{id} shows it: phase, error, byte counts and
 * phase timings. Written by the migration's event loop only; read from any thread as a JSON snapshot.
 */
public final class MigrationStatus {
  public enum Role { SOURCE, DESTINATION }

  private final String id;
  private final Role role;
  private volatile String workloadId;
  private volatile MigrationPhase phase = MigrationPhase.PREPARING;
  private volatile MigrationFailure error;
  private volatile String destinationWorkloadId;
  /** A kubelet migration's result: the checkpoint image the destination imported. */
  private volatile String checkpointImage;
  private final JsonObject bytes = new JsonObject().put("raw", 0L).put("wire", 0L).put("pages", 0L)
      .put("images", 0L).put("layerBytesSent", 0L).put("layerBytesSkipped", 0L);
  private final JsonObject timings = new JsonObject();
  private volatile String mode;
  /** A post-copy migration's figures and, when it broke, the state the workload was left in. */
  private final JsonObject postCopy = new JsonObject();

  public MigrationStatus(String id, Role role, String workloadId) {
    this.id = id;
    this.role = role;
    this.workloadId = workloadId;
  }

  public String id() {
    return id;
  }

  public MigrationPhase phase() {
    return phase;
  }

  public MigrationFailure error() {
    return error;
  }

  public synchronized void phase(MigrationPhase next) {
    if (!phase.finished()) {
      phase = next;
    }
  }

  public synchronized void error(MigrationFailure failure) {
    if (error == null) {
      error = failure;
    }
  }

  /** A better account of the failure already recorded (e.g. the destination's own reason). */
  public synchronized void explainError(MigrationFailure failure) {
    error = failure;
  }

  public synchronized void workloadId(String id) {
    workloadId = id;
  }

  public synchronized void destinationWorkloadId(String id) {
    destinationWorkloadId = id;
  }

  public synchronized void checkpointImage(String image) {
    checkpointImage = image;
  }

  /** The mode the migration uses ({@code stop-and-copy}, {@code post-copy}). */
  public void mode(String wireName) {
    mode = wireName;
  }

  /** Merges {@code figures} into the status's {@code postCopy} object. */
  public synchronized void postCopy(JsonObject figures) {
    postCopy.mergeIn(figures);
  }

  public synchronized void bytes(String name, long value) {
    bytes.put(name, value);
  }

  /** Sets a timing in milliseconds; negative values (a phase that never started) are left out. */
  public synchronized void timing(String name, long millis) {
    if (millis >= 0) {
      timings.put(name, millis);
    }
  }

  public synchronized Long timing(String name) {
    return timings.getLong(name);
  }

  public synchronized JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("id", id)
        .put("role", role.name().toLowerCase(java.util.Locale.ROOT))
        .put("workloadId", workloadId)
        .put("phase", phase.name())
        .put("error", error == null ? null : error.toJson())
        .put("bytes", bytes.copy())
        .put("timings", timings.copy())
        .put("destinationWorkloadId", destinationWorkloadId);
    if (checkpointImage != null) {
      json.put("checkpointImage", checkpointImage);
    }
    if (mode != null) {
      json.put("mode", mode);
    }
    if (!postCopy.isEmpty()) {
      json.put("postCopy", postCopy.copy());
    }
    return json;
  }
}
