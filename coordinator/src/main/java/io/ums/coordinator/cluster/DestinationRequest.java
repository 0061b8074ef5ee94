package io.ums.coordinator.cluster;

import io.vertx.core.json.JsonObject;
import java.util.Optional;

/** What the destination side needs to prepare for an incoming workload (the body of POST /v1/reservations). */
public record DestinationRequest(
    String migrationId,
    String workloadName,
    String namespace,
    String kind,
    String sourceClusterId,
    String sourceNode,
    String arch,
    Optional<String> destinationNode,
    Optional<JsonObject> podTemplate) {}
