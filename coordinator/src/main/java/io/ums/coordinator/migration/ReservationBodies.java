package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.DestinationRequest;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The bodies of the reservation endpoints between coordinators (POST /v1/reservations and its
 * commit): what the source coordinator sends, and how the destination reads it (400 naming the
 * field when it cannot).
 */
public final class ReservationBodies {
  private ReservationBodies() {}

  static DestinationRequest parse(JsonObject body) {
    if (body == null) {
      throw MigrationException.badField("body", "expected a JSON object");
    }
    String kind = text(body, "kind", true);
    if (!kind.equals("process") && !kind.equals("container") && !kind.equals(DestinationRequest.KIND_CHECKPOINT)) {
      throw MigrationException.badField("kind", "must be process, container or checkpoint");
    }
    Object pod = body.getValue("pod");
    if (pod != null && !(pod instanceof JsonObject)) {
      throw MigrationException.badField("pod", "must be a JSON object (a pod manifest)");
    }
    List<String> containers = containers(body.getValue("containers"));
    if (kind.equals(DestinationRequest.KIND_CHECKPOINT) && (pod == null || containers.isEmpty())) {
      throw MigrationException.badField(pod == null ? "pod" : "containers",
          "kind checkpoint needs the source pod's manifest and the names of its containers");
    }
    return new DestinationRequest(
        text(body, "migrationId", true),
        text(body, "workloadName", true),
        Optional.ofNullable(text(body, "namespace", false)).orElse(MigrationRequest.DEFAULT_NAMESPACE),
        kind,
        text(body, "sourceClusterId", false),
        text(body, "sourceNode", false),
        text(body, "arch", false),
        Optional.ofNullable(text(body, "destinationNode", false)),
        Optional.ofNullable((JsonObject) pod),
        containers,
        mode(body, kind));
  }

  private static String mode(JsonObject body, String kind) {
    String mode = Optional.ofNullable(text(body, "mode", false)).orElse(MigrationRequest.STOP_AND_COPY);
    if (!mode.equals(MigrationRequest.STOP_AND_COPY) && !mode.equals(MigrationRequest.POST_COPY)) {
      throw MigrationException.badField("mode", "must be stop-and-copy or post-copy");
    }
    if (mode.equals(MigrationRequest.POST_COPY) && !kind.equals("process") && !kind.equals("container")) {
      throw MigrationException.badField("mode", "post-copy moves processes and runc containers only");
    }
    return mode;
  }

  private static List<String> containers(Object value) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof JsonArray list) || list.stream().anyMatch(c -> !(c instanceof String s) || s.isBlank())) {
      throw MigrationException.badField("containers", "must be a list of container names");
    }
    return list.stream().map(String.class::cast).toList();
  }

  private static String text(JsonObject body, String field, boolean required) {
    Object value = body.getValue(field);
    if (value == null) {
      if (required) {
        throw MigrationException.badField(field, "is required");
      }
      return null;
    }
    if (!(value instanceof String s) || s.isBlank()) {
      throw MigrationException.badField(field, "must be a non-empty string");
    }
    return MigrationException.checkedText(field, s);
  }

  /** The body the source coordinator sends. */
  public static JsonObject requestBody(DestinationRequest request) {
    JsonObject body =
        new JsonObject()
            .put("migrationId", request.migrationId())
            .put("workloadName", request.workloadName())
            .put("namespace", request.namespace())
            .put("kind", request.kind())
            .put("mode", request.mode())
            .put("sourceClusterId", request.sourceClusterId())
            .put("sourceNode", request.sourceNode())
            .put("arch", request.arch());
    request.destinationNode().ifPresent(n -> body.put("destinationNode", n));
    request.podTemplate().ifPresent(p -> body.put("pod", p));
    if (!request.containers().isEmpty()) {
      body.put("containers", new JsonArray(request.containers()));
    }
    return body;
  }

  static Map<String, String> checkpointImages(JsonObject body, List<String> containers) {
    Object value = body == null ? null : body.getValue("checkpointImages");
    if (!(value instanceof JsonObject images)) {
      throw MigrationException.badField("checkpointImages", "a JSON object {container: image} is required"
          + " to commit a checkpoint reservation");
    }
    Map<String, String> byContainer = new LinkedHashMap<>();
    for (String container : containers) {
      Object image = images.getValue(container);
      if (!(image instanceof String name) || name.isBlank()) {
        throw MigrationException.badField("checkpointImages." + container, "the checkpoint image of container "
            + container + " is required");
      }
      byContainer.put(container, name);
    }
    return byContainer;
  }
}
