package io.ums.agent.workload;

public enum WorkloadStatus {
  RUNNING,
  /** Frozen by a checkpoint, waiting for the switchover verdict. */
  STOPPED,
  MIGRATING,
  EXITED
}
