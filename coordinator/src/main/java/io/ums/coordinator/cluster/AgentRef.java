package io.ums.coordinator.cluster;

/** One node's agent: the node name and the base URL of its control API. */
public record AgentRef(String node, String controlUrl) {}
