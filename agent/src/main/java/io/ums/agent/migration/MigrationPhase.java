package io.ums.agent.migration;

/** Where a migration is, either role. The last three are final. */
public enum MigrationPhase {
  PREPARING,
  CHECKPOINTING,
  TRANSFERRING,
  RESTORING,
  /** The destination runs the workload (the source removed it unless keep). */
  DONE,
  /** The source resumed its workload; the error says why. */
  ROLLED_BACK,
  FAILED;

  public boolean finished() {
    return this == DONE || this == ROLLED_BACK || this == FAILED;
  }
}
