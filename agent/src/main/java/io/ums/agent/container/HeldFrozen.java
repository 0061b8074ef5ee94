package io.ums.agent.container;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The containers a previous run of this agent froze (runc) or checkpointed (podman) for a migration whose
 * restore request may have reached the destination: they stay stopped at recovery (resuming one the
 * destination runs would make two copies)
 * until the migration engine's stopped-source records are settled by the destination's verdict. Reads those
 * records ({@code <work dir>/stopped-sources/*.json}, written by the engine's StoppedSources). Blocking.
 */
final class HeldFrozen {
  private HeldFrozen() {}

  /** Container id → the migration whose verdict it waits for. */
  static Map<String, String> awaitingVerdict(Path workDir) {
    Map<String, String> held = new HashMap<>();
    Path dir = workDir.resolve("stopped-sources");
    if (!Files.isDirectory(dir)) {
      return held;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(path -> path.getFileName().toString().endsWith(".json")).toList()) {
        try {
          JsonObject record = new JsonObject(Files.readString(file));
          if ("container".equals(record.getString("kind")) && "AWAITING_VERDICT".equals(record.getString("stage"))) {
            held.put(record.getString("workloadId"), record.getString("migrationId"));
          }
        } catch (IOException | RuntimeException unreadable) {
          // the engine reports unreadable records when it loads them
        }
      }
    } catch (IOException e) {
      return held;
    }
    return held;
  }
}
