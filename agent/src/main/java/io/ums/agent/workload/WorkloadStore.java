package io.ums.agent.workload;

import io.ums.agent.files.FileTrees;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Workload records on disk: {@code <work-dir>/workloads/<id>/record.json} beside the workload's
 * {@code output.log}. Written atomically (temp file, then rename), so an agent killed mid-write leaves the
 * old record or the new one, never half of one. Blocking: call it on a worker.
 */
final class WorkloadStore {
  private static final Logger LOG = LoggerFactory.getLogger(WorkloadStore.class);
  static final String RECORD_FILE = "record.json";
  static final String LOG_FILE = "output.log";

  private final Path root;

  WorkloadStore(Path workDir) {
    this.root = workDir.resolve("workloads");
  }

  Path directory(String id) {
    return root.resolve(id);
  }

  Path logFile(String id) {
    return directory(id).resolve(LOG_FILE);
  }

  boolean hasRecord(String id) {
    return Files.exists(directory(id).resolve(RECORD_FILE));
  }

  void save(WorkloadRecord record) {
    try {
      Path dir = directory(record.id());
      Files.createDirectories(dir);
      Path partial = dir.resolve(RECORD_FILE + ".partial");
      Files.writeString(partial, toJson(record).encodePrettily());
      Files.move(partial, dir.resolve(RECORD_FILE), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save workload record " + record.id(), e);
    }
  }

  void delete(String id) {
    deleteTree(directory(id));
  }

  /**
   * Every readable record. Directories without a record (a relay opened for a restore that never
   * happened, a launch cut short) are removed; unreadable records are logged and skipped.
   */
  List<WorkloadRecord> loadAll() {
    List<WorkloadRecord> records = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return records;
    }
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path dir : dirs.filter(Files::isDirectory).toList()) {
        Path file = dir.resolve(RECORD_FILE);
        if (!Files.exists(file)) {
          deleteTree(dir);
          continue;
        }
        try {
          records.add(fromJson(new JsonObject(Files.readString(file))));
        } catch (IOException | RuntimeException e) {
          LOG.warn("skipping unreadable workload record {}: {}", file, e.toString());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + root, e);
    }
    return records;
  }

  static JsonObject toJson(WorkloadRecord record) {
    Workload workload = record.workload();
    WorkloadSpec spec = workload.spec();
    JsonObject json = new JsonObject()
        .put("id", workload.id())
        .put("spec", new JsonObject()
            .put("name", spec.name())
            .put("kind", spec.kind())
            .put("runtime", spec.runtime())
            .put("image", spec.image())
            .put("command", new JsonArray(spec.command()))
            .put("env", new JsonObject(new HashMap<>(spec.env())))
            .put("user", spec.user().orElse(null)))
        .put("pid", record.process().pid())
        .put("pidStartTime", record.process().startTime())
        .put("createdAt", workload.createdAt().toString())
        .put("restoredFrom", workload.restoredFrom())
        .put("logFile", record.logFile().toString());
    record.relay().ifPresent(relay -> json.put("relayPid", relay.pid()).put("relayStartTime", relay.startTime()));
    return json;
  }

  static WorkloadRecord fromJson(JsonObject json) {
    JsonObject specJson = json.getJsonObject("spec");
    Map<String, String> env = new HashMap<>();
    specJson.getJsonObject("env", new JsonObject()).forEach(entry -> env.put(entry.getKey(),
        String.valueOf(entry.getValue())));
    List<String> command = new ArrayList<>();
    specJson.getJsonArray("command").forEach(part -> command.add(String.valueOf(part)));
    WorkloadSpec spec = new WorkloadSpec(specJson.getString("name"), specJson.getString("kind"),
        specJson.getString("runtime"), specJson.getString("image"), command, env,
        Optional.ofNullable(specJson.getString("user")));
    ProcessIdentity process = new ProcessIdentity(json.getLong("pid"), json.getLong("pidStartTime"));
    Optional<ProcessIdentity> relay = json.containsKey("relayPid")
        ? Optional.of(new ProcessIdentity(json.getLong("relayPid"), json.getLong("relayStartTime")))
        : Optional.empty();
    Workload workload = new Workload(json.getString("id"), spec, process.pid(), WorkloadStatus.RUNNING,
        Instant.parse(json.getString("createdAt")), json.getString("restoredFrom"));
    return new WorkloadRecord(workload, process, relay, Path.of(json.getString("logFile")));
  }

  private static void deleteTree(Path dir) {
    try {
      FileTrees.delete(dir);
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", dir, e.toString());
    }
  }
}
