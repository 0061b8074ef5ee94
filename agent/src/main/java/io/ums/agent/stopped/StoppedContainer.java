package io.ums.agent.stopped;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Instant;

/**
 * A container this agent keeps stopped for a migration: its cgroup, the migration, since when, and (once the
 * destination holds its checkpoint) until when it waits for the switch; {@code holdUntil} null: its migration
 * still runs. {@code committed}: the destination runs the pod, so this container never runs again (no resume,
 * no expiry): it waits for its pod's deletion to end it.
 */
public record StoppedContainer(String containerId, Path cgroup, String migrationId, Instant since,
                               Instant holdUntil, boolean committed) {
  StoppedContainer holdUntil(Instant until) {
    return new StoppedContainer(containerId, cgroup, migrationId, since, until, committed);
  }

  StoppedContainer asCommitted() {
    return new StoppedContainer(containerId, cgroup, migrationId, since, holdUntil, true);
  }

  JsonObject toJson() {
    return new JsonObject().put("containerId", containerId).put("cgroup", cgroup.toString())
        .put("migrationId", migrationId).put("since", since.toString())
        .put("holdUntil", holdUntil == null ? null : holdUntil.toString()).put("committed", committed);
  }

  static StoppedContainer fromJson(JsonObject json) {
    String until = json.getString("holdUntil");
    return new StoppedContainer(json.getString("containerId"), Path.of(json.getString("cgroup")),
        json.getString("migrationId"), Instant.parse(json.getString("since")),
        until == null ? null : Instant.parse(until), json.getBoolean("committed", false));
  }
}
