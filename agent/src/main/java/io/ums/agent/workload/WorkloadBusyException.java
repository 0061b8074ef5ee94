package io.ums.agent.workload;

public final class WorkloadBusyException extends RuntimeException {
  public WorkloadBusyException(String workloadId, String migrationId) {
    super("workload " + workloadId + " is already migrating (migration " + migrationId + ")");
  }
}
