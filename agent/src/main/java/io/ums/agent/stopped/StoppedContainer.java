package io.ums.agent.stopped;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Instant;

/**
 * A container this agent keeps stopped for a migration: its cgroup, the migration, since when, and (once the
 * destination holds its checkpoint) until when it waits for the switch; {@code holdUntil} null: its migration
 * still runs.
 */
public record StoppedContainer(String containerId, Path cgroup, String migrationId, Instant since,
                               Instant holdUntil) {
  StoppedContainer holdUntil(Instant until) {
    return new StoppedContainer(containerId, cgroup, migrationId, since, until);
  }

  JsonObject toJson() {
    return new JsonObject().put("containerId", containerId).put("cgroup", cgroup.toString())
        .put("migrationId", migrationId).put("since", since.toString())
        .put("holdUntil", holdUntil == null ? null : holdUntil.toString());
  }

  static StoppedContainer fromJson(JsonObject json) {
    String until = json.getString("holdUntil");
    return new StoppedContainer(json.getString("containerId"), Path.of(json.getString("cgroup")),
        json.getString("migrationId"), Instant.parse(json.getString("since")),
        until == null ? null : Instant.parse(until));
  }
}
