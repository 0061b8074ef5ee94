package io.ums.agent.migration;

import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Optional;

/**
 * The restore request ({@link Channels#RESTORE}'s metadata): what the destination needs besides the bytes.
 * A process or container names the source workload and its spec; a process adds its TCP addresses (the
 * destination restores established connections only if it has all the local ones, and a listener bound to an
 * address it lacks cannot be restored there) and the inode of its output pipe; a kubelet migration names the
 * pod's container, the archive's size and whether the source pod stays. A process also names its working
 * directory (see {@link io.ums.agent.workload.WorkingDirectories}).
 */
record RestoreManifest(String migrationId, String sourceNode, Optional<String> sourceWorkloadId,
                       Optional<WorkloadSpec> spec, List<String> tcpLocalAddresses, List<String> tcpListenAddresses,
                       Optional<Long> outputPipeInode, Optional<KubeletTarget> kubelet, Optional<Long> archiveBytes,
                       Optional<Boolean> keep, Optional<String> cwd) {

  static RestoreManifest forWorkload(String migrationId, String sourceNode, String sourceWorkloadId,
                                     WorkloadSpec spec) {
    return new RestoreManifest(migrationId, sourceNode, Optional.of(sourceWorkloadId), Optional.of(spec), List.of(),
        List.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
  }

  static RestoreManifest forProcess(String migrationId, String sourceNode, String sourceWorkloadId, WorkloadSpec spec,
                                    List<String> tcpLocalAddresses, List<String> tcpListenAddresses,
                                    Optional<Long> outputPipeInode) {
    return new RestoreManifest(migrationId, sourceNode, Optional.of(sourceWorkloadId), Optional.of(spec),
        List.copyOf(tcpLocalAddresses), List.copyOf(tcpListenAddresses), outputPipeInode, Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty());
  }

  static RestoreManifest forKubelet(String migrationId, String sourceNode, KubeletTarget target, long archiveBytes,
                                    boolean keep) {
    return new RestoreManifest(migrationId, sourceNode, Optional.empty(), Optional.empty(), List.of(), List.of(),
        Optional.empty(), Optional.of(target), Optional.of(archiveBytes), Optional.of(keep), Optional.empty());
  }

  /** With the process tree's working directory, which the destination creates if it is a workload's own. */
  RestoreManifest withCwd(Optional<String> workingDirectory) {
    return new RestoreManifest(migrationId, sourceNode, sourceWorkloadId, spec, tcpLocalAddresses, tcpListenAddresses,
        outputPipeInode, kubelet, archiveBytes, keep, workingDirectory);
  }

  /** The migration id, or {@code fallback} for a manifest without one. */
  String migrationIdOr(String fallback) {
    return migrationId == null ? fallback : migrationId;
  }

  JsonObject toJson() {
    JsonObject json = new JsonObject().put("migrationId", migrationId).put("sourceNode", sourceNode);
    sourceWorkloadId.ifPresent(id -> json.put("sourceWorkloadId", id));
    spec.ifPresent(workload -> json.put("spec", WorkloadSpecJson.encode(workload)));
    if (outputPipeInode.isPresent() || !tcpLocalAddresses.isEmpty() || !tcpListenAddresses.isEmpty()) {
      json.put("tcpLocalAddresses", new JsonArray(tcpLocalAddresses))
          .put("tcpListenAddresses", new JsonArray(tcpListenAddresses));
    }
    outputPipeInode.ifPresent(inode -> json.put("outputPipeInode", inode));
    kubelet.ifPresent(target -> json.put("kubelet", target.toJson()));
    archiveBytes.ifPresent(bytes -> json.put("archiveBytes", bytes));
    keep.ifPresent(value -> json.put("keep", value));
    cwd.ifPresent(path -> json.put("cwd", path));
    return json;
  }

  static RestoreManifest fromJson(JsonObject json) {
    return new RestoreManifest(json.getString("migrationId"), json.getString("sourceNode"),
        Optional.ofNullable(json.getString("sourceWorkloadId")),
        Optional.ofNullable(json.getJsonObject("spec")).map(WorkloadSpecJson::decode),
        strings(json, "tcpLocalAddresses"), strings(json, "tcpListenAddresses"),
        Optional.ofNullable(json.getLong("outputPipeInode")),
        Optional.ofNullable(json.getJsonObject("kubelet")).map(KubeletTarget::fromJson),
        Optional.ofNullable(json.getLong("archiveBytes")), Optional.ofNullable(json.getBoolean("keep")),
        Optional.ofNullable(json.getString("cwd")));
  }

  /** The spec, or an empty process spec for a manifest without one (as the destination always read it). */
  WorkloadSpec specOrEmpty() {
    return spec.orElseGet(() -> WorkloadSpecJson.decode(new JsonObject()));
  }

  private static List<String> strings(JsonObject json, String key) {
    return json.getJsonArray(key, new JsonArray()).stream().map(String::valueOf).toList();
  }
}
