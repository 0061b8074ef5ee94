package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.vertx.core.json.JsonObject;
import java.util.Optional;

/**
 * The destination's verdict ({@link Channels#RESULT}'s metadata): the workload it runs (or, for a kubelet
 * migration, the checkpoint image it imported), how long the restore took and, for a process tree, whether
 * its TCP connections were restored live and, post-copy, what the last page took; or why it failed.
 */
record MigrationResult(boolean ok, Optional<String> workloadId, Optional<String> checkpointImage, Long restoreMs,
                       Optional<String> tcpConnections, Optional<MigrationFailure> error,
                       Optional<JsonObject> postCopy) {

  static MigrationResult restored(String workloadId, Long restoreMs) {
    return new MigrationResult(true, Optional.of(workloadId), Optional.empty(), restoreMs, Optional.empty(),
        Optional.empty(), Optional.empty());
  }

  /** A restored process tree, and whether its TCP connections are live ("established") or "closed". */
  static MigrationResult restored(String workloadId, Long restoreMs, boolean tcpEstablished) {
    return new MigrationResult(true, Optional.of(workloadId), Optional.empty(), restoreMs,
        Optional.of(tcpEstablished ? "established" : "closed"), Optional.empty(), Optional.empty());
  }

  static MigrationResult imported(String checkpointImage, Long restoreMs) {
    return new MigrationResult(true, Optional.empty(), Optional.of(checkpointImage), restoreMs, Optional.empty(),
        Optional.empty(), Optional.empty());
  }

  static MigrationResult failed(MigrationFailure failure) {
    return new MigrationResult(false, Optional.empty(), Optional.empty(), null, Optional.empty(),
        Optional.of(failure), Optional.empty());
  }

  /** A post-copy result: what the last page took ({@code postCopyMs}, pages on demand and pushed). */
  MigrationResult withPostCopy(JsonObject figures) {
    return new MigrationResult(ok, workloadId, checkpointImage, restoreMs, tcpConnections, error,
        Optional.of(figures.copy()));
  }

  /** The failure the source reports: the destination's own, or an unknown one when it gave none. */
  MigrationFailure failure() {
    return error.orElseGet(() -> MigrationFailure.fromJson(new JsonObject()));
  }

  JsonObject toJson() {
    JsonObject json = new JsonObject();
    workloadId.ifPresent(id -> json.put("workloadId", id));
    checkpointImage.ifPresent(image -> json.put("checkpointImage", image));
    if (ok) {
      json.put("restoreMs", restoreMs);
    }
    tcpConnections.ifPresent(how -> json.put("tcpConnections", how));
    error.ifPresent(failure -> json.put("error", failure.toJson()));
    postCopy.ifPresent(figures -> json.put("postCopy", figures));
    return json.put("ok", ok);
  }

  static MigrationResult fromJson(JsonObject json) {
    boolean ok = json.getBoolean("ok", false);
    return new MigrationResult(ok, Optional.ofNullable(json.getString("workloadId")),
        Optional.ofNullable(json.getString("checkpointImage")), json.getLong("restoreMs", -1L),
        Optional.ofNullable(json.getString("tcpConnections")),
        ok ? Optional.empty() : Optional.of(MigrationFailure.fromJson(json.getJsonObject("error", new JsonObject()))),
        Optional.ofNullable(json.getJsonObject("postCopy")));
  }
}
