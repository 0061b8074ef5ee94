package io.ums.agent.container;

import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * One container's files under the agent's work dir: {@code bundle/} (config.json + rootfs mount point),
 * {@code upper/} and {@code work/} (overlayfs), the output FIFO and log, and {@code container.json}, the
 * record a restarted agent reads to find its containers again.
 */
public record ContainerDir(Path root) {
  public Path bundle() {
    return root.resolve("bundle");
  }

  public Path rootfs() {
    return bundle().resolve("rootfs");
  }

  public Path upper() {
    return root.resolve("upper");
  }

  public Path work() {
    return root.resolve("work");
  }

  public Path log() {
    return root.resolve("output.log");
  }

  public void create() {
    try {
      Files.createDirectories(rootfs());
      Files.createDirectories(upper());
      Files.createDirectories(work());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public void writeConfig(JsonObject config) {
    write(bundle().resolve("config.json"), config.encodePrettily());
  }

  public void writeRecord(String id, WorkloadSpec spec, Instant createdAt, String restoredFrom) {
    JsonObject record = new JsonObject().put("id", id).put("name", spec.name()).put("kind", spec.kind())
        .put("runtime", spec.runtime()).put("image", spec.image()).put("command", spec.command())
        .put("env", new JsonObject(Map.copyOf(spec.env()))).put("createdAt", createdAt.toString())
        .put("restoredFrom", restoredFrom);
    write(root.resolve("container.json"), record.encodePrettily());
  }

  /** The record written by {@link #writeRecord}, or null when there is none (a half-made directory). */
  public JsonObject readRecord() {
    Path file = root.resolve("container.json");
    try {
      return Files.exists(file) ? new JsonObject(Files.readString(file)) : null;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void write(Path file, String content) {
    try {
      Path temp = file.resolveSibling(file.getFileName() + ".partial");
      Files.writeString(temp, content);
      Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
