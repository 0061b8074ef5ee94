package io.ums.agent.workload;

/** The workload exists but is in no state for the request (e.g. migrating one that exited): API 409. */
public final class WorkloadStateException extends RuntimeException {
  public WorkloadStateException(String workloadId, WorkloadStatus status, String request) {
    super("workload " + workloadId + " is " + status + ": cannot " + request);
  }
}
