package io.ums.coordinator.migration;

import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.DestinationRequest;
import java.util.List;
import java.util.Optional;

/**
 * One open reservation on the destination side: the node, its receive sessions (one, or one per
 * container for a kubelet checkpoint) and the object hosting the workload. Lives on the
 * coordinator's event loop.
 */
final class Reservation {
  /** A receive session on the destination agent; {@code container} is null unless kind checkpoint. */
  record Session(String container, String sessionId) {}

  final String id;
  final DestinationRequest request;
  final AgentRef agent;
  final List<Session> sessions;
  Optional<String> destinationObject;
  /** The checkpoint images a commit started the pod from: a release discards them from the agent's node. */
  List<String> checkpointImages = List.of();
  /** A commit is creating the pod and waiting for it: the orphan check must not release it meanwhile. */
  boolean committing;
  /** The session phases the abandonment check saw last time (see {@link AbandonedReservations}). */
  List<String> lastPhases = List.of();
  /** When the agents or the source coordinator last showed they work on it (System.nanoTime()). */
  long lastProgressNanos = System.nanoTime();

  Reservation(String id, DestinationRequest request, AgentRef agent, List<Session> sessions,
      Optional<String> destinationObject) {
    this.id = id;
    this.request = request;
    this.agent = agent;
    this.sessions = List.copyOf(sessions);
    this.destinationObject = destinationObject;
  }

  void progressed(List<String> phases, long nowNanos) {
    lastPhases = phases;
    lastProgressNanos = nowNanos;
  }

  String migrationId() {
    return request.migrationId();
  }
}
