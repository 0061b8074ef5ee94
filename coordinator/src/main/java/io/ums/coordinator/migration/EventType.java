package io.ums.coordinator.migration;

/** The events of GET /migrations/{id}/events, in the order a migration goes through them. */
public enum EventType {
  RESERVED,
  CHECKPOINTING,
  TRANSFERRING,
  RESTORING,
  DONE,
  ROLLED_BACK;

  public boolean terminal() {
    return this == DONE || this == ROLLED_BACK;
  }

  /** The agent's status phase mapped to our event, or null for phases we do not announce. */
  public static EventType fromAgentPhase(String phase) {
    return switch (phase == null ? "" : phase) {
      case "CHECKPOINTING" -> CHECKPOINTING;
      case "TRANSFERRING" -> TRANSFERRING;
      case "RESTORING" -> RESTORING;
      default -> null;
    };
  }
}
